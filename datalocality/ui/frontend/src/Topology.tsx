import { Box, HStack, Text } from "@chakra-ui/react";
import { useMemo } from "react";
import type { Flow, IdleNodes, LayoutNode } from "./api";
import { dash, exactBytes, formatBytes } from "./format";
import { type Layout, PAD, type ZoneGroup, computeLayout, cssVar, tierColor } from "./topologyLayout";

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}\u2026` : s);

type TopologyProps = {
  nodes: LayoutNode[];
  idle: IdleNodes[];
  flows: Flow[];
  otherFlowBytes: number;
  tierNames: string[];
  highlightNode?: string | null;
  highlightReplica?: number | null;
};

export function Topology(props: TopologyProps) {
  const { nodes, idle, flows, otherFlowBytes, tierNames, highlightNode, highlightReplica } = props;
  const layout = useMemo(() => computeLayout(nodes, idle, flows), [nodes, idle, flows]);
  const maxFlow = layout.flows.reduce((m, f) => Math.max(m, f.bytes), 0);
  const flowWidth = (b: number) => (maxFlow > 0 ? 1 + 11 * Math.sqrt(Math.max(0, b) / maxFlow) : 1);
  const highlightZone = highlightNode ? layout.zoneOfNode.get(highlightNode)?.key : undefined;
  const flowOpacity = layout.flows.length > 60 ? 0.35 : layout.flows.length > 20 ? 0.5 : 0.65;
  const tiersUsed = [...new Set(layout.flows.map((f) => f.tier))].sort((a, b) => a - b);
  const fg = cssVar("fg");
  const muted = cssVar("fg.muted");
  const border = cssVar("border");

  if (nodes.length === 0 && idle.length === 0) {
    return (
      <Text color="fg.muted" data-testid="topology-empty">
        No nodes hold data for this plan.
      </Text>
    );
  }

  return (
    <Box>
      <HStack gap={4} wrap="wrap" fontSize="xs" color="fg.muted" mb={1}>
        <Text>
          {layout.aggregated
            ? `${nodes.length.toLocaleString("en-US")} nodes, drawn per zone`
            : `${nodes.length.toLocaleString("en-US")} nodes`}
        </Text>
        {tiersUsed.map((t) => (
          <HStack key={t} gap={1}>
            <Box w="14px" h="3px" style={{ background: tierColor(t) }} />
            <Text>moved across {tierNames[t] ?? `tier ${t}`}</Text>
          </HStack>
        ))}
        {otherFlowBytes > 0 ? (
          <Text data-testid="other-flow-bytes" data-bytes={otherFlowBytes} title={exactBytes(otherFlowBytes)}>
            + {formatBytes(otherFlowBytes)} in smaller moves not drawn
          </Text>
        ) : null}
      </HStack>
      <Box maxH="720px" overflow="auto" borderWidth="1px" borderColor="border" borderRadius="md" bg="bg.panel" p={2}>
        <svg
          data-testid="topology"
          data-aggregated={layout.aggregated ? "true" : "false"}
          viewBox={`-2 -2 ${layout.width + 4} ${layout.height + 4}`}
          style={{ width: `${layout.width + 4}px`, maxWidth: "100%", height: "auto", display: "block" }}
          fontFamily="inherit"
          role="img"
          aria-label="Where the data is and where it moves"
        >
          <style>{".dl-flow:hover{stroke-opacity:1}"}</style>
          <defs>
            {tiersUsed.map((t) => (
              <marker
                key={t}
                id={`dl-arrow-${t}`}
                viewBox="0 0 10 10"
                refX={10}
                refY={5}
                markerWidth={9}
                markerHeight={9}
                markerUnits="userSpaceOnUse"
                orient="auto"
              >
                <path d="M0,0 L10,5 L0,10 z" fill={tierColor(t)} />
              </marker>
            ))}
          </defs>
          {layout.clusters.map((c) => (
            <g key={`c:${c.cluster}`} data-testid="cluster" data-cluster={c.cluster}>
              <rect x={c.rect.x} y={c.rect.y} width={c.rect.w} height={c.rect.h} rx={6} fill="none" stroke={border} strokeWidth={1.5} />
              <text x={c.rect.x + PAD} y={c.rect.y + 13} style={{ fontSize: "11px" }} fontWeight={600} fill={fg}>
                cluster {dash(c.cluster)}
              </text>
              {c.regions.map((r) => (
                <g key={`r:${r.key}`} data-testid="region" data-region={r.region}>
                  <rect x={r.rect.x} y={r.rect.y} width={r.rect.w} height={r.rect.h} rx={5} fill="none" stroke={border} strokeDasharray="4 3" />
                  <text x={r.rect.x + PAD} y={r.rect.y + 13} style={{ fontSize: "10px" }} fill={muted}>
                    region {dash(r.region)}
                  </text>
                  {r.zones.map((z) => (
                    <ZoneView
                      key={`z:${z.key}`}
                      zone={z}
                      layout={layout}
                      highlighted={z.key === highlightZone}
                      highlightNode={highlightNode ?? null}
                      highlightReplica={highlightReplica ?? null}
                    />
                  ))}
                </g>
              ))}
            </g>
          ))}
          <g fill="none" strokeLinecap="round">
            {layout.flows.map((f) => {
              const label = `${f.from} \u2192 ${f.to}: ${formatBytes(f.bytes)} (${exactBytes(f.bytes)}), ${f.chunks} chunks, across ${tierNames[f.tier] ?? `tier ${f.tier}`}`;
              return (
                <g key={f.key}>
                  <path
                    data-testid="flow"
                    data-from={f.from}
                    data-to={f.to}
                    data-tier={f.tier}
                    data-bytes={f.bytes}
                    d={f.d}
                    stroke={tierColor(f.tier)}
                    strokeWidth={Math.round(flowWidth(f.bytes) * 10) / 10}
                    strokeOpacity={flowOpacity}
                    className="dl-flow"
                    markerEnd={`url(#dl-arrow-${f.tier})`}
                  >
                    <title>{label}</title>
                  </path>
                </g>
              );
            })}
          </g>
        </svg>
      </Box>
    </Box>
  );
}

function ZoneView(props: {
  zone: ZoneGroup;
  layout: Layout;
  highlighted: boolean;
  highlightNode: string | null;
  highlightReplica: number | null;
}) {
  const { zone: z, layout, highlighted, highlightNode, highlightReplica } = props;
  const fg = cssVar("fg");
  const muted = cssVar("fg.muted");
  const border = cssVar("border");
  const accent = cssVar("orange.500");
  const barBg = cssVar("bg.emphasized");
  const barFg = cssVar("blue.500");
  const { rect } = z;
  const idleLabel = z.idle ? (
    <text
      data-testid="idle"
      data-zone={z.zone}
      data-count={z.idle}
      x={rect.x + PAD}
      y={rect.y + rect.h - PAD + (layout.aggregated ? -2 : -2)}
      style={{ fontSize: "10px" }}
      fill={muted}
    >
      +{z.idle.toLocaleString("en-US")} idle
    </text>
  ) : null;

  if (layout.aggregated) {
    const frac = layout.maxHeld > 0 ? z.heldBytes / layout.maxHeld : 0;
    const inner = layout.innerZoneBytes.get(z.key) ?? 0;
    const title = `zone ${dash(z.zone)} (region ${dash(z.region)}, cluster ${dash(z.cluster)}): ${z.nodes.length} nodes hold ${formatBytes(z.heldBytes)} (${exactBytes(z.heldBytes)}) in ${z.heldChunks} chunks${inner ? `; ${formatBytes(inner)} moved within the zone` : ""}${z.idle ? `; ${z.idle} idle nodes` : ""}`;
    return (
      <g>
        <rect
          data-testid="zone"
          data-zone={z.zone}
          data-region={z.region}
          data-cluster={z.cluster}
          data-held-bytes={z.heldBytes}
          data-held-chunks={z.heldChunks}
          data-nodes={z.nodes.length}
          data-idle={z.idle}
          data-highlighted={highlighted ? "true" : undefined}
          x={rect.x}
          y={rect.y}
          width={rect.w}
          height={rect.h}
          rx={4}
          fill={cssVar("bg.subtle")}
          stroke={highlighted ? accent : border}
          strokeWidth={highlighted ? 3 : 1}
        >
          <title>{title}</title>
        </rect>
        <text x={rect.x + PAD} y={rect.y + 14} style={{ fontSize: "11px" }} fontWeight={600} fill={fg} pointerEvents="none">
          zone {clip(dash(z.zone), 18)}
        </text>
        <text x={rect.x + PAD} y={rect.y + 28} style={{ fontSize: "10px" }} fill={muted} pointerEvents="none">
          {z.nodes.length.toLocaleString("en-US")} nodes · {formatBytes(z.heldBytes)}
        </text>
        <rect x={rect.x + PAD} y={rect.y + 34} width={rect.w - 2 * PAD} height={5} rx={2} fill={barBg} pointerEvents="none" />
        <rect x={rect.x + PAD} y={rect.y + 34} width={Math.max(0, (rect.w - 2 * PAD) * frac)} height={5} rx={2} fill={barFg} pointerEvents="none" />
        {idleLabel}
      </g>
    );
  }

  return (
    <g>
      <rect x={rect.x} y={rect.y} width={rect.w} height={rect.h} rx={4} fill={cssVar("bg.subtle")} stroke={border} />
      <text x={rect.x + PAD} y={rect.y + 13} style={{ fontSize: "10px" }} fill={muted}>
        zone {clip(dash(z.zone), 20)}
      </text>
      {z.nodes.map((n, i) => {
        const r = z.nodeRects[i];
        const hl = n.name === highlightNode;
        const frac = layout.maxHeld > 0 ? (n.held_bytes || 0) / layout.maxHeld : 0;
        const reps = n.replicas ?? [];
        const shown = reps.slice(0, 7);
        return (
          <g key={n.name}>
            <rect
              data-testid="node"
              data-node={n.name}
              data-held-bytes={n.held_bytes}
              data-held-chunks={n.held_chunks}
              data-replicas={reps.join(",")}
              data-highlighted={hl ? "true" : undefined}
              x={r.x}
              y={r.y}
              width={r.w}
              height={r.h}
              rx={3}
              fill={cssVar("bg.panel")}
              stroke={hl ? accent : border}
              strokeWidth={hl ? 3 : 1}
            >
              <title>
                {`${n.name}: holds ${formatBytes(n.held_bytes)} (${exactBytes(n.held_bytes)}) in ${n.held_chunks} chunks${reps.length ? `; replicas ${reps.join(", ")}` : ""}`}
              </title>
            </rect>
            <text x={r.x + 5} y={r.y + 13} style={{ fontSize: "10px" }} fill={fg} pointerEvents="none">
              {clip(n.name, 16)}
            </text>
            {shown.map((idx, k) => (
              <circle
                key={idx}
                data-testid="replica-marker"
                data-replica={idx}
                cx={r.x + 9 + k * 11}
                cy={r.y + 23}
                r={4}
                fill={idx === highlightReplica ? accent : cssVar("green.500")}
                pointerEvents="none"
              />
            ))}
            {reps.length > shown.length ? (
              <text x={r.x + 9 + shown.length * 11 - 3} y={r.y + 26} style={{ fontSize: "9px" }} fill={muted} pointerEvents="none">
                +{reps.length - shown.length}
              </text>
            ) : null}
            <rect x={r.x + 5} y={r.y + r.h - 9} width={r.w - 10} height={4} rx={2} fill={barBg} pointerEvents="none" />
            <rect x={r.x + 5} y={r.y + r.h - 9} width={Math.max(0, (r.w - 10) * frac)} height={4} rx={2} fill={barFg} pointerEvents="none" />
          </g>
        );
      })}
      {idleLabel}
    </g>
  );
}
