import { Badge, Box, Button, Heading, HStack, Stack, Table, Text } from "@chakra-ui/react";
import { type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import type { Operation, PlacementData, Replica } from "./api";
import { apiUrl } from "./api";
import { Bytes, ErrorLine, Loading, useJson } from "./common";
import { dash, exactBytes, formatBytes, percent } from "./format";
import { Topology } from "./Topology";

export const PAGE_SIZE = 100;

export type PluginProps = {
  dagId?: string;
  runId?: string;
  taskId?: string;
  mapIndex?: string;
};

export function Placement({ dagId, runId, taskId, mapIndex }: PluginProps) {
  const url =
    dagId && runId && taskId
      ? apiUrl("placement", {
          dag_id: dagId,
          run_id: runId,
          task_id: taskId,
          map_index: mapIndex !== undefined && mapIndex !== "" ? mapIndex : undefined,
        }).href
      : null;
  const state = useJson<PlacementData>(url);
  if (url === null) {
    return (
      <Box p={4}>
        <ErrorLine message="Open Placement from a task instance: it needs a DAG, a run and a task." />
      </Box>
    );
  }
  if (state.status === "error") {
    return (
      <Box p={4}>
        <ErrorLine message={state.error.message} />
      </Box>
    );
  }
  if (state.status === "loading") return <Loading label="Loading the placement…" />;
  return <PlacementView data={state.data} />;
}

function Section({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <Box as="section" data-testid={testId}>
      <Heading size="sm" mb={2} color="fg">
        {title}
      </Heading>
      {children}
    </Box>
  );
}

const TOTAL_LABELS: Record<string, string> = {
  bytes: "bytes",
  local_bytes: "local",
  moved_bytes: "moved",
  chunks: "chunks",
  transfers: "transfers",
  replicas: "replicas",
};

export function PlacementView({ data }: { data: PlacementData }) {
  const plan = data.plan ?? { strategy: "", replicas: [], operations: [], totals: {}, notes: [] };
  const replicas = plan.replicas ?? [];
  const operations = plan.operations ?? [];
  const totals = plan.totals ?? {};
  const notes = plan.notes ?? [];
  const tierNames = data.tier_names ?? [];
  const hlReplica = typeof data.highlight?.replica === "number" ? data.highlight.replica : null;
  const hlOperation = typeof data.highlight?.operation === "number" ? data.highlight.operation : null;
  const hlNode =
    hlReplica !== null
      ? (replicas.find((r) => r.index === hlReplica)?.node ?? null)
      : hlOperation !== null
        ? (operations.find((o) => o.index === hlOperation)?.node ?? null)
        : null;
  const layout = data.layout ?? { nodes: [], idle_nodes: [], flows: [], other_flow_bytes: 0 };
  const extraTotals = Object.entries(totals).filter(
    ([k, v]) => typeof v === "number" && !(k in TOTAL_LABELS),
  );
  const totalBytes = totals.bytes ?? 0;
  const baselineMoved = data.baseline?.moved_bytes;

  return (
    <Stack gap={6} p={4} data-testid="placement" data-role={data.role}>
      <Box data-testid="placement-header">
        <HStack gap={3} wrap="wrap" mb={1}>
          <Heading size="md">Placement of {data.plan_task}</Heading>
          <Badge colorPalette="blue" data-testid="strategy">
            {plan.strategy || "-"}
          </Badge>
          <Badge colorPalette="gray" variant="outline" data-testid="role">
            {data.role}
          </Badge>
        </HStack>
        <RoleLine data={data} hlReplica={hlReplica} hlOperation={hlOperation} />
        <HStack gap={5} wrap="wrap" color="fg" fontSize="sm" mt={1}>
          <Text>
            <Text as="span" color="fg.muted">replicas </Text>
            <Text as="span" data-testid="total-replicas">
              {totals.replicas ?? replicas.length}
            </Text>
          </Text>
          <Text>
            <Text as="span" color="fg.muted">chunks </Text>
            <Text as="span" data-testid="total-chunks">
              {totals.chunks ?? 0}
            </Text>
          </Text>
          <Text>
            <Text as="span" color="fg.muted">bytes </Text>
            <Text as="span" data-testid="total-bytes" data-bytes={totalBytes} title={exactBytes(totalBytes)}>
              {formatBytes(totalBytes)}
            </Text>
          </Text>
          <Text>
            <Text as="span" color="fg.muted">local </Text>
            <Text as="span" data-testid="total-local-bytes" data-bytes={totals.local_bytes ?? 0} title={exactBytes(totals.local_bytes ?? 0)}>
              {formatBytes(totals.local_bytes ?? 0)} ({percent(totals.local_bytes ?? 0, totalBytes)})
            </Text>
          </Text>
          <Text>
            <Text as="span" color="fg.muted">moved </Text>
            <Text as="span" data-testid="total-moved-bytes" data-bytes={totals.moved_bytes ?? 0} title={exactBytes(totals.moved_bytes ?? 0)}>
              {formatBytes(totals.moved_bytes ?? 0)} ({percent(totals.moved_bytes ?? 0, totalBytes)})
            </Text>
          </Text>
          {totals.transfers !== undefined ? (
            <Text>
              <Text as="span" color="fg.muted">transfers </Text>
              <Text as="span" data-testid="total-transfers">{totals.transfers}</Text>
            </Text>
          ) : null}
          {extraTotals.map(([k, v]) => (
            <Text key={k} data-testid={`total-${k}`}>
              <Text as="span" color="fg.muted">{k.replace(/_/g, " ")} </Text>
              {k.endsWith("bytes") ? <Bytes value={v} /> : <Text as="span">{formatNumber(v)}</Text>}
            </Text>
          ))}
        </HStack>
      </Box>

      {typeof baselineMoved === "number" ? (
        <Baseline
          planMoved={totals.moved_bytes ?? 0}
          baselineMoved={baselineMoved}
          strategy={plan.strategy}
          baselineStrategy={data.baseline?.strategy ?? "baseline"}
        />
      ) : null}

      <Section title="Where the data is" testId="topology-section">
        <Topology
          nodes={layout.nodes ?? []}
          idle={layout.idle_nodes ?? []}
          flows={layout.flows ?? []}
          otherFlowBytes={layout.other_flow_bytes ?? 0}
          tierNames={tierNames}
          highlightNode={hlNode}
          highlightReplica={hlReplica}
        />
      </Section>

      <Section title={`Replicas (${replicas.length.toLocaleString("en-US")})`} testId="replicas">
        <ReplicaTable replicas={replicas} tierNames={tierNames} highlight={hlReplica} />
      </Section>

      {operations.length ? (
        <Section title={`Operations (${operations.length})`} testId="operations">
          <OperationTable operations={operations} highlight={hlOperation} />
        </Section>
      ) : null}

      {notes.length ? (
        <Section title="Notes" testId="notes">
          <Box as="ul" pl={5} color="fg" fontSize="sm">
            {notes.map((n, i) => (
              <li key={i} data-testid="note">
                {n}
              </li>
            ))}
          </Box>
        </Section>
      ) : null}
    </Stack>
  );
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(2);
}

function RoleLine({ data, hlReplica, hlOperation }: { data: PlacementData; hlReplica: number | null; hlOperation: number | null }) {
  let text: string | null = null;
  if (data.role === "replica" && hlReplica !== null) text = `${data.task_id} runs replica ${hlReplica} of ${data.plan_task}.`;
  else if (data.role === "operation" && hlOperation !== null) text = `${data.task_id} runs operation ${hlOperation} of ${data.plan_task}.`;
  else if (data.role === "producer") text = `${data.task_id} produced the data that ${data.plan_task} placed.`;
  return text ? (
    <Text fontSize="sm" color="fg.muted" data-testid="role-line">
      {text}
    </Text>
  ) : null;
}

function Baseline(props: { planMoved: number; baselineMoved: number; strategy: string; baselineStrategy: string }) {
  const { planMoved, baselineMoved, strategy, baselineStrategy } = props;
  const saved = baselineMoved - planMoved;
  const max = Math.max(planMoved, baselineMoved, 1);
  const bar = (label: string, value: number, palette: string, testId: string) => (
    <HStack gap={3} data-testid={testId} data-bytes={value}>
      <Text w="140px" fontSize="sm" color="fg.muted" truncate title={label}>
        {label}
      </Text>
      <Box flex="1" maxW="600px" h="14px" bg="bg.muted" borderRadius="sm" overflow="hidden">
        <Box h="100%" colorPalette={palette} bg={palette === "gray" ? "fg.muted" : "colorPalette.solid"} style={{ width: `${(value / max) * 100}%` }} />
      </Box>
      <Text fontSize="sm" w="110px" title={exactBytes(value)}>
        {formatBytes(value)}
      </Text>
    </HStack>
  );
  return (
    <Section title="Compared with the baseline" testId="baseline">
      <Text fontSize="sm" mb={2}>
        {saved >= 0 ? "Bytes moved saved: " : "Bytes moved more than the baseline: "}
        <Text as="span" fontWeight="semibold" data-testid="bytes-saved" data-bytes={saved} title={exactBytes(saved)}>
          {formatBytes(Math.abs(saved))}
        </Text>{" "}
        <Text as="span" color="fg.muted">
          ({saved.toLocaleString("en-US")} bytes vs {baselineStrategy})
        </Text>
      </Text>
      <Stack gap={1}>
        {bar(`plan (${strategy || "-"})`, planMoved, "blue", "bar-plan")}
        {bar(`baseline (${baselineStrategy})`, baselineMoved, "gray", "bar-baseline")}
      </Stack>
    </Section>
  );
}

export function tierMix(r: Replica, tierNames: string[]): string {
  const tiers = r.bytes_by_tier ?? [];
  const sum = tiers.reduce((a, b) => a + (b || 0), 0);
  if (!sum) return "-";
  return tiers
    .map((b, i) => [b, i] as const)
    .filter(([b]) => b > 0)
    .map(([b, i]) => `${tierNames[i] ?? `tier ${i}`} ${percent(b, sum)}`)
    .join(" · ");
}

export function scoreTerms(terms: Record<string, number> | undefined): string {
  if (!terms) return "-";
  const parts = Object.entries(terms).map(([k, v]) => `${k}=${typeof v === "number" ? v.toFixed(2) : String(v)}`);
  return parts.length ? parts.join(", ") : "-";
}

function Pager({ page, pages, setPage, total }: { page: number; pages: number; setPage: (p: number) => void; total: number }) {
  if (pages <= 1) return null;
  const from = page * PAGE_SIZE + 1;
  const to = Math.min(total, (page + 1) * PAGE_SIZE);
  return (
    <HStack gap={2} my={2} data-testid="pager" data-page={page + 1} data-pages={pages}>
      <Button size="xs" variant="outline" onClick={() => setPage(0)} disabled={page === 0} data-testid="pager-first">
        «
      </Button>
      <Button size="xs" variant="outline" onClick={() => setPage(page - 1)} disabled={page === 0} data-testid="pager-prev">
        ‹ Previous
      </Button>
      <Text fontSize="sm" color="fg.muted">
        {from.toLocaleString("en-US")}–{to.toLocaleString("en-US")} of {total.toLocaleString("en-US")} (page {page + 1} of {pages})
      </Text>
      <Button size="xs" variant="outline" onClick={() => setPage(page + 1)} disabled={page >= pages - 1} data-testid="pager-next">
        Next ›
      </Button>
      <Button size="xs" variant="outline" onClick={() => setPage(pages - 1)} disabled={page >= pages - 1} data-testid="pager-last">
        »
      </Button>
    </HStack>
  );
}

function ReplicaTable({ replicas, tierNames, highlight }: { replicas: Replica[]; tierNames: string[]; highlight: number | null }) {
  const hlPos = useMemo(() => (highlight === null ? -1 : replicas.findIndex((r) => r.index === highlight)), [replicas, highlight]);
  const pages = Math.max(1, Math.ceil(replicas.length / PAGE_SIZE));
  const [page, setPage] = useState(hlPos >= 0 ? Math.floor(hlPos / PAGE_SIZE) : 0);
  const rowRef = useRef<HTMLTableRowElement | null>(null);
  const scrolled = useRef(false);
  useEffect(() => {
    if (!scrolled.current && rowRef.current) {
      scrolled.current = true;
      rowRef.current.scrollIntoView?.({ block: "center", behavior: "auto" });
    }
  });
  if (!replicas.length) return <Text color="fg.muted">The plan has no replicas.</Text>;
  const rows = replicas.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  return (
    <Box>
      <Pager page={page} pages={pages} setPage={setPage} total={replicas.length} />
      <Box overflowX="auto">
        <Table.Root size="sm" data-testid="replica-table">
          <Table.Header>
            <Table.Row>
              <Table.ColumnHeader>#</Table.ColumnHeader>
              <Table.ColumnHeader>Node</Table.ColumnHeader>
              <Table.ColumnHeader textAlign="end">Chunks</Table.ColumnHeader>
              <Table.ColumnHeader textAlign="end">Local</Table.ColumnHeader>
              <Table.ColumnHeader textAlign="end">Moved</Table.ColumnHeader>
              <Table.ColumnHeader>Tier mix</Table.ColumnHeader>
              <Table.ColumnHeader>Score terms</Table.ColumnHeader>
              <Table.ColumnHeader>Reason</Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {rows.map((r) => {
              const hl = r.index === highlight;
              return (
                <Table.Row
                  key={r.index}
                  ref={hl ? rowRef : undefined}
                  data-testid="replica-row"
                  data-replica={r.index}
                  data-node={r.node}
                  data-chunks={r.chunk_count}
                  data-bytes={r.bytes}
                  data-local-bytes={r.local_bytes}
                  data-moved-bytes={r.moved_bytes}
                  data-highlighted={hl ? "true" : undefined}
                  colorPalette={hl ? "orange" : undefined}
                  bg={hl ? "colorPalette.subtle" : undefined}
                  fontWeight={hl ? "semibold" : undefined}
                >
                  <Table.Cell>{r.index}</Table.Cell>
                  <Table.Cell title={[r.cluster && `cluster ${r.cluster}`, r.zone && `zone ${r.zone}`].filter(Boolean).join(", ")}>
                    {dash(r.node)}
                  </Table.Cell>
                  <Table.Cell textAlign="end">{r.chunk_count}</Table.Cell>
                  <Table.Cell textAlign="end"><Bytes value={r.local_bytes} /></Table.Cell>
                  <Table.Cell textAlign="end"><Bytes value={r.moved_bytes} /></Table.Cell>
                  <Table.Cell whiteSpace="nowrap">{tierMix(r, tierNames)}</Table.Cell>
                  <Table.Cell fontFamily="mono" fontSize="xs">{scoreTerms(r.score_terms)}</Table.Cell>
                  <Table.Cell color="fg.muted" maxW="420px">{r.reason || "-"}</Table.Cell>
                </Table.Row>
              );
            })}
          </Table.Body>
        </Table.Root>
      </Box>
      <Pager page={page} pages={pages} setPage={setPage} total={replicas.length} />
    </Box>
  );
}

function OperationTable({ operations, highlight }: { operations: Operation[]; highlight: number | null }) {
  const rowRef = useRef<HTMLTableRowElement | null>(null);
  useEffect(() => {
    rowRef.current?.scrollIntoView?.({ block: "center", behavior: "auto" });
  }, []);
  return (
    <Box overflowX="auto">
      <Table.Root size="sm" data-testid="operation-table">
        <Table.Header>
          <Table.Row>
            <Table.ColumnHeader>#</Table.ColumnHeader>
            <Table.ColumnHeader>Kind</Table.ColumnHeader>
            <Table.ColumnHeader>Scope</Table.ColumnHeader>
            <Table.ColumnHeader>Source</Table.ColumnHeader>
            <Table.ColumnHeader>Node</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Replica</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Chunks</Table.ColumnHeader>
            <Table.ColumnHeader>Reason</Table.ColumnHeader>
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {operations.map((o) => {
            const hl = o.index === highlight;
            return (
              <Table.Row
                key={o.index}
                ref={hl ? rowRef : undefined}
                data-testid="operation-row"
                data-operation={o.index}
                data-node={o.node ?? ""}
                data-chunks={o.chunk_count ?? 0}
                data-highlighted={hl ? "true" : undefined}
                colorPalette={hl ? "orange" : undefined}
                bg={hl ? "colorPalette.subtle" : undefined}
                fontWeight={hl ? "semibold" : undefined}
              >
                <Table.Cell>{o.index}</Table.Cell>
                <Table.Cell><Badge colorPalette={o.kind === "assembly" ? "purple" : "teal"}>{o.kind}</Badge></Table.Cell>
                <Table.Cell>{dash(o.scope)}</Table.Cell>
                <Table.Cell>{dash(o.source)}</Table.Cell>
                <Table.Cell>{dash(o.node)}</Table.Cell>
                <Table.Cell textAlign="end">{o.replica ?? "-"}</Table.Cell>
                <Table.Cell textAlign="end">{o.chunk_count ?? "-"}</Table.Cell>
                <Table.Cell color="fg.muted" maxW="420px">{o.reason || "-"}</Table.Cell>
              </Table.Row>
            );
          })}
        </Table.Body>
      </Table.Root>
    </Box>
  );
}
