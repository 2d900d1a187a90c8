import { Badge, Box, Heading, HStack, Link, NativeSelect, Spinner, Stack, Table, Text } from "@chakra-ui/react";
import { useState } from "react";
import type { Claim, ClaimsData, Locality, Source } from "./api";
import { apiUrl } from "./api";
import { Bytes, ErrorLine, Loading, useJson } from "./common";
import { formatAge, shortList } from "./format";

export const PHASES = ["Pending", "Bound", "Lost", "Released"];

const PHASE_PALETTE: Record<string, string> = {
  Bound: "green",
  Available: "green",
  Pending: "yellow",
  Lost: "red",
  Failed: "red",
  Released: "gray",
};

function PhaseBadge({ phase }: { phase: string }) {
  return (
    <Badge colorPalette={PHASE_PALETTE[phase] ?? "gray"} data-testid="phase">
      {phase || "-"}
    </Badge>
  );
}

function LocalityCell({ locality }: { locality: Locality | undefined }) {
  const zones = shortList(locality?.zones, 3);
  const nodes = shortList(locality?.nodes, 2);
  const clusters = locality?.clusters ?? [];
  const title = [
    clusters.length ? `clusters: ${clusters.join(", ")}` : "",
    zones.title ? `zones: ${zones.title}` : "",
    nodes.title ? `nodes: ${nodes.title}` : "",
  ]
    .filter(Boolean)
    .join("\n");
  if (!title) return <Text color="fg.muted">-</Text>;
  return (
    <Box title={title} fontSize="xs" data-testid="locality">
      <Text>
        <Text as="span" color="fg.muted">zones </Text>
        {zones.text}
      </Text>
      <Text>
        <Text as="span" color="fg.muted">nodes </Text>
        {nodes.text}
      </Text>
    </Box>
  );
}

function Select(props: { label: string; value: string; options: string[]; onChange: (v: string) => void; testId: string }) {
  const { label, value, options, onChange, testId } = props;
  return (
    <HStack gap={2}>
      <Text fontSize="sm" color="fg.muted">
        {label}
      </Text>
      <NativeSelect.Root size="sm" width="240px">
        <NativeSelect.Field data-testid={testId} aria-label={label} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          <option value="">All</option>
          {options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
    </HStack>
  );
}

export function DataLocality() {
  const [dagId, setDagId] = useState("");
  const [phase, setPhase] = useState("");
  const [knownDags, setKnownDags] = useState<string[]>([]);
  const state = useJson<ClaimsData>(apiUrl("claims", { dag_id: dagId, phase }).href);
  const data = state.data;
  const dagOptions = [...new Set([...knownDags, ...(data?.dag_ids ?? []), ...(dagId ? [dagId] : [])])].sort();
  if (data && dagOptions.length !== knownDags.length) setKnownDags(dagOptions);

  return (
    <Stack gap={5} p={4} data-testid="data-locality">
      <HStack gap={3} wrap="wrap">
        <Heading size="lg">Data Locality</Heading>
        {data?.namespace ? (
          <Badge variant="outline" data-testid="namespace">
            namespace {data.namespace}
          </Badge>
        ) : null}
        {state.status === "loading" && data ? <Spinner size="sm" /> : null}
      </HStack>
      <HStack gap={6} wrap="wrap">
        <Select label="DAG" value={dagId} options={dagOptions} onChange={setDagId} testId="dag-filter" />
        <Select label="Phase" value={phase} options={PHASES} onChange={setPhase} testId="phase-filter" />
      </HStack>
      {state.status === "error" ? (
        state.error.status === 503 ? (
          <ErrorLine testId="cluster-unreachable" message={state.error.message} />
        ) : (
          <ErrorLine message={state.error.message} />
        )
      ) : null}
      {state.status === "loading" && !data ? <Loading label="Loading claims…" /> : null}
      {data && state.status !== "error" ? (
        <>
          <Box>
            <Heading size="sm" mb={2}>
              Claims ({data.claims.length})
            </Heading>
            <ClaimTable claims={data.claims} />
          </Box>
          <Box>
            <Heading size="sm" mb={2}>
              Sources ({data.sources.length})
            </Heading>
            <SourceTable sources={data.sources} />
          </Box>
        </>
      ) : null}
    </Stack>
  );
}

function ClaimTable({ claims }: { claims: Claim[] }) {
  if (!claims.length) return <Text color="fg.muted" data-testid="no-claims">No claims.</Text>;
  return (
    <Box overflowX="auto">
      <Table.Root size="sm" data-testid="claim-table">
        <Table.Header>
          <Table.Row>
            <Table.ColumnHeader>Name</Table.ColumnHeader>
            <Table.ColumnHeader>Namespace</Table.ColumnHeader>
            <Table.ColumnHeader>Phase</Table.ColumnHeader>
            <Table.ColumnHeader>Source</Table.ColumnHeader>
            <Table.ColumnHeader>Reclaim</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Chunks</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Bytes</Table.ColumnHeader>
            <Table.ColumnHeader>Locality</Table.ColumnHeader>
            <Table.ColumnHeader>Age</Table.ColumnHeader>
            <Table.ColumnHeader>DAG run</Table.ColumnHeader>
            <Table.ColumnHeader />
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {claims.map((c) => (
            <Table.Row
              key={`${c.namespace}/${c.name}`}
              data-testid="claim-row"
              data-claim={c.name}
              data-phase={c.phase}
              data-source={c.source ?? ""}
              data-chunks={c.chunk_count}
              data-bytes={c.bytes}
            >
              <Table.Cell fontWeight="medium">{c.name}</Table.Cell>
              <Table.Cell>{c.namespace || "-"}</Table.Cell>
              <Table.Cell><PhaseBadge phase={c.phase} /></Table.Cell>
              <Table.Cell>{c.source || "-"}</Table.Cell>
              <Table.Cell>{c.reclaim_policy || "-"}</Table.Cell>
              <Table.Cell textAlign="end">{c.chunk_count}</Table.Cell>
              <Table.Cell textAlign="end"><Bytes value={c.bytes} /></Table.Cell>
              <Table.Cell><LocalityCell locality={c.locality} /></Table.Cell>
              <Table.Cell title={c.created} data-testid="age">{formatAge(c.age_seconds)}</Table.Cell>
              <Table.Cell fontSize="xs">
                {c.dag_id ? (
                  <>
                    <Text>{c.dag_id}</Text>
                    <Text color="fg.muted" title={c.run_id}>
                      {c.run_id.length > 36 ? `${c.run_id.slice(0, 35)}…` : c.run_id}
                    </Text>
                    {c.task_id ? <Text color="fg.muted">{c.task_id}</Text> : null}
                  </>
                ) : (
                  "-"
                )}
              </Table.Cell>
              <Table.Cell>
                {c.placement_path ? (
                  <Link
                    data-testid="placement-link"
                    colorPalette="blue"
                    color="colorPalette.fg"
                    href={new URL(c.placement_path, document.baseURI).href}
                  >
                    Placement
                  </Link>
                ) : null}
              </Table.Cell>
            </Table.Row>
          ))}
        </Table.Body>
      </Table.Root>
    </Box>
  );
}

function SourceTable({ sources }: { sources: Source[] }) {
  if (!sources.length) return <Text color="fg.muted" data-testid="no-sources">No sources.</Text>;
  return (
    <Box overflowX="auto">
      <Table.Root size="sm" data-testid="source-table">
        <Table.Header>
          <Table.Row>
            <Table.ColumnHeader>Name</Table.ColumnHeader>
            <Table.ColumnHeader>Phase</Table.ColumnHeader>
            <Table.ColumnHeader>Reclaim</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Chunks</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Bytes</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Slices</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Claims</Table.ColumnHeader>
            <Table.ColumnHeader>Locality</Table.ColumnHeader>
            <Table.ColumnHeader>Age</Table.ColumnHeader>
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {sources.map((s) => (
            <Table.Row
              key={s.name}
              data-testid="source-row"
              data-source={s.name}
              data-phase={s.phase}
              data-chunks={s.chunk_count}
              data-bytes={s.bytes}
              data-slices={s.slices}
            >
              <Table.Cell fontWeight="medium">{s.name}</Table.Cell>
              <Table.Cell><PhaseBadge phase={s.phase} /></Table.Cell>
              <Table.Cell>{s.reclaim_policy || "-"}</Table.Cell>
              <Table.Cell textAlign="end">{s.chunk_count}</Table.Cell>
              <Table.Cell textAlign="end"><Bytes value={s.bytes} /></Table.Cell>
              <Table.Cell textAlign="end">{s.slices}</Table.Cell>
              <Table.Cell textAlign="end">{s.claims}</Table.Cell>
              <Table.Cell><LocalityCell locality={s.locality} /></Table.Cell>
              <Table.Cell title={s.created} data-testid="age">{formatAge(s.age_seconds)}</Table.Cell>
            </Table.Row>
          ))}
        </Table.Body>
      </Table.Root>
    </Box>
  );
}
