import { Box, HStack, Text } from "@chakra-ui/react";
import { useMemo } from "react";
import type { Flow, IdleNodes, LayoutNode } from "./api";
import { dash, exactBytes, formatBytes } from "./format";

/** Above this many nodes, each zone is drawn as one box and flows join zone pairs. */
export const AGGREGATE_ABOVE = 300;

const W = 1200; // widest the picture gets, in SVG units
const PAD = 8;
const HEADER = 18;
const NW = 104;
const NH = 40;
const GAP = 6;
const MAX_COLS = 8;
const IDLE_H = 16;
const ZW = 170; // an aggregated zone
const ZH = 62;

const cssVar = (token: string) => `var(--chakra-colors-${token.replace(/\./g, "-")})`;
const TIER_COLORS = ["gray.500", "teal.500", "yellow.500", "orange.500", "red.500", "purple.500"];
export const tierColor = (tier: number) =>
  cssVar(TIER_COLORS[Math.max(0, Math.min(TIER_COLORS.length - 1, tier))]);

type Rect = { x: number; y: number; w: number; h: number };

type ZoneGroup = {
  key: string;
  cluster: string;
  region: string;
  zone: string;
  nodes: LayoutNode[];
  idle: number;
  heldBytes: number;
  heldChunks: number;
  rect: Rect;
  nodeRects: Rect[];
};
type RegionGroup = { key: string; cluster: string; region: string; zones: ZoneGroup[]; rect: Rect };
type ClusterGroup = { cluster: string; regions: RegionGroup[]; rect: Rect };

type DrawnFlow = {
  key: string;
  from: string;
  to: string;
  tier: number;
  bytes: number;
  chunks: number;
  d: string;
};

type Layout = {
  width: number;
  height: number;
  aggregated: boolean;
  clusters: ClusterGroup[];
  zones: ZoneGroup[];
  flows: DrawnFlow[];
  maxHeld: number;
  zoneOfNode: Map<string, ZoneGroup>;
  innerZoneBytes: Map<string, number>;
};

const zoneKey = (cluster: string, region: string, zone: string) => `${cluster}/${region}/${zone}`;

/** Shelf packing: children left to right, wrapping at maxW; positions relative to (0, 0). */
function shelf(sizes: { w: number; h: number }[], maxW: number) {
  const pos: { x: number; y: number }[] = [];
  let x = 0;
  let y = 0;
  let rowH = 0;
  let width = 0;
  for (const s of sizes) {
    if (x > 0 && x + s.w > maxW) {
      x = 0;
      y += rowH + GAP;
      rowH = 0;
    }
    pos.push({ x, y });
    x += s.w + GAP;
    rowH = Math.max(rowH, s.h);
    width = Math.max(width, x - GAP);
  }
  return { pos, w: width, h: sizes.length ? y + rowH : 0 };
}

/** A point on the edge of `r`, on the way from its centre towards (tx, ty). */
function edge(r: Rect, tx: number, ty: number): [number, number] {
  const cx = r.x + r.w / 2;
  const cy = r.y + r.h / 2;
  const dx = tx - cx;
  const dy = ty - cy;
  if (!dx && !dy) return [cx, cy];
  const s = Math.min(dx ? r.w / 2 / Math.abs(dx) : Infinity, dy ? r.h / 2 / Math.abs(dy) : Infinity, 1);
  return [cx + dx * s, cy + dy * s];
}

function curve(a: Rect, b: Rect): { d: string } {
  const ax = a.x + a.w / 2;
  const ay = a.y + a.h / 2;
  const bx = b.x + b.w / 2;
  const by = b.y + b.h / 2;
  const dx = bx - ax;
  const dy = by - ay;
  const len = Math.hypot(dx, dy) || 1;
  const bend = Math.max(20, len * 0.2);
  const cx = (ax + bx) / 2 - (dy / len) * bend;
  const cy = (ay + by) / 2 + (dx / len) * bend;
  const [x1, y1] = edge(a, cx, cy);
  const [x2, y2] = edge(b, cx, cy);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { d: `M${r(x1)},${r(y1)} Q${r(cx)},${r(cy)} ${r(x2)},${r(y2)}` };
}

export function computeLayout(
  nodes: LayoutNode[],
  idle: IdleNodes[],
  flows: Flow[],
  aggregateAbove = AGGREGATE_ABOVE,
): Layout {
  const aggregated = nodes.length > aggregateAbove;
  const tree = new Map<string, Map<string, Map<string, ZoneGroup>>>();
  const zoneFor = (cluster: string, region: string, zone: string): ZoneGroup => {
    let regions = tree.get(cluster);
    if (!regions) tree.set(cluster, (regions = new Map()));
    let zones = regions.get(region);
    if (!zones) regions.set(region, (zones = new Map()));
    let group = zones.get(zone);
    if (!group) {
      group = {
        key: zoneKey(cluster, region, zone),
        cluster,
        region,
        zone,
        nodes: [],
        idle: 0,
        heldBytes: 0,
        heldChunks: 0,
        rect: { x: 0, y: 0, w: 0, h: 0 },
        nodeRects: [],
      };
      zones.set(zone, group);
    }
    return group;
  };
  const zoneOfNode = new Map<string, ZoneGroup>();
  let maxHeld = 0;
  for (const n of nodes) {
    const g = zoneFor(n.cluster ?? "", n.region ?? "", n.zone ?? "");
    g.nodes.push(n);
    g.heldBytes += n.held_bytes || 0;
    g.heldChunks += n.held_chunks || 0;
    zoneOfNode.set(n.name, g);
    if (!aggregated) maxHeld = Math.max(maxHeld, n.held_bytes || 0);
  }
  for (const i of idle) zoneFor(i.cluster ?? "", i.region ?? "", i.zone ?? "").idle += i.count;

  const byName = <T,>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
  const clusters: ClusterGroup[] = [];
  const allZones: ZoneGroup[] = [];
  const regionMaxW = W - 4 * PAD;
  const zoneMaxW = regionMaxW - 2 * PAD;
  for (const [cluster, regions] of byName(tree)) {
    const regionGroups: RegionGroup[] = [];
    for (const [region, zones] of byName(regions)) {
      const zoneGroups = byName(zones).map(([, z]) => z);
      for (const z of zoneGroups) {
        if (aggregated) {
          z.rect = { x: 0, y: 0, w: ZW, h: ZH };
          maxHeld = Math.max(maxHeld, z.heldBytes);
          continue;
        }
        z.nodes.sort((a, b) => a.name.localeCompare(b.name));
        const n = z.nodes.length;
        const cols = Math.max(1, Math.min(n, MAX_COLS, Math.floor((zoneMaxW - 2 * PAD + GAP) / (NW + GAP))));
        const rows = Math.ceil(n / cols);
        const innerW = n ? cols * NW + (cols - 1) * GAP : 0;
        const innerH = n ? rows * NH + (rows - 1) * GAP : 0;
        z.nodeRects = z.nodes.map((_, i) => ({
          x: PAD + (i % cols) * (NW + GAP),
          y: HEADER + Math.floor(i / cols) * (NH + GAP),
          w: NW,
          h: NH,
        }));
        z.rect = {
          x: 0,
          y: 0,
          w: Math.max(innerW, 96) + 2 * PAD,
          h: HEADER + innerH + (z.idle ? IDLE_H : 0) + PAD,
        };
      }
      const packed = shelf(zoneGroups.map((z) => z.rect), zoneMaxW);
      zoneGroups.forEach((z, i) => {
        z.rect.x = PAD + packed.pos[i].x;
        z.rect.y = HEADER + packed.pos[i].y;
      });
      regionGroups.push({
        key: `${cluster}/${region}`,
        cluster,
        region,
        zones: zoneGroups,
        rect: { x: 0, y: 0, w: packed.w + 2 * PAD, h: HEADER + packed.h + PAD },
      });
    }
    const packed = shelf(regionGroups.map((r) => r.rect), regionMaxW);
    regionGroups.forEach((r, i) => {
      r.rect.x = PAD + packed.pos[i].x;
      r.rect.y = HEADER + packed.pos[i].y;
    });
    clusters.push({
      cluster,
      regions: regionGroups,
      rect: { x: 0, y: 0, w: packed.w + 2 * PAD, h: HEADER + packed.h + PAD },
    });
  }
  const top = shelf(clusters.map((c) => c.rect), W);
  clusters.forEach((c, i) => {
    c.rect.x = top.pos[i].x;
    c.rect.y = top.pos[i].y;
  });

  // Absolute positions of zones and node rects.
  const nodeRect = new Map<string, Rect>();
  for (const c of clusters) {
    for (const r of c.regions) {
      for (const z of r.zones) {
        z.rect.x += c.rect.x + r.rect.x;
        z.rect.y += c.rect.y + r.rect.y;
        z.nodeRects = z.nodeRects.map((nr) => ({ ...nr, x: nr.x + z.rect.x, y: nr.y + z.rect.y }));
        z.nodes.forEach((n, i) => nodeRect.set(n.name, z.nodeRects[i]));
        allZones.push(z);
      }
      r.rect.x += c.rect.x;
      r.rect.y += c.rect.y;
    }
  }

  const drawn: DrawnFlow[] = [];
  const innerZoneBytes = new Map<string, number>();
  if (aggregated) {
    const pairs = new Map<string, { from: ZoneGroup; to: ZoneGroup; tier: number; bytes: number; chunks: number }>();
    for (const f of flows) {
      const a = zoneOfNode.get(f.from);
      const b = zoneOfNode.get(f.to);
      if (!a || !b) continue;
      if (a === b) {
        innerZoneBytes.set(a.key, (innerZoneBytes.get(a.key) ?? 0) + f.bytes);
        continue;
      }
      const key = `${a.key}\u2192${b.key}`;
      const p = pairs.get(key);
      if (p) {
        p.bytes += f.bytes;
        p.chunks += f.chunks ?? 0;
        p.tier = Math.max(p.tier, f.tier);
      } else pairs.set(key, { from: a, to: b, tier: f.tier, bytes: f.bytes, chunks: f.chunks ?? 0 });
    }
    for (const [key, p] of pairs) {
      drawn.push({ key, from: p.from.key, to: p.to.key, tier: p.tier, bytes: p.bytes, chunks: p.chunks, ...curve(p.from.rect, p.to.rect) });
    }
  } else {
    flows.forEach((f, i) => {
      const a = nodeRect.get(f.from);
      const b = nodeRect.get(f.to);
      if (!a || !b || a === b) return;
      drawn.push({ key: `${i}`, from: f.from, to: f.to, tier: f.tier, bytes: f.bytes, chunks: f.chunks ?? 0, ...curve(a, b) });
    });
  }
  drawn.sort((a, b) => b.bytes - a.bytes);
  return {
    width: Math.max(top.w, 200),
    height: Math.max(top.h, 40),
    aggregated,
    clusters,
    zones: allZones,
    flows: drawn,
    maxHeld,
    zoneOfNode,
    innerZoneBytes,
  };
}

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
