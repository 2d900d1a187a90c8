/** Where each cluster, region, zone, node and flow of the Placement picture goes: pure geometry. */
import type { Flow, IdleNodes, LayoutNode } from "./api";

/** Above this many nodes, each zone is drawn as one box and flows join zone pairs. */
export const AGGREGATE_ABOVE = 300;

const W = 1200; // widest the picture gets, in SVG units
export const PAD = 8;
const HEADER = 18;
const NW = 104;
const NH = 40;
const GAP = 6;
const MAX_COLS = 8;
const IDLE_H = 16;
const ZW = 170; // an aggregated zone
const ZH = 62;

export const cssVar = (token: string) => `var(--chakra-colors-${token.replace(/\./g, "-")})`;
const TIER_COLORS = ["gray.500", "teal.500", "yellow.500", "orange.500", "red.500", "purple.500"];
export const tierColor = (tier: number) =>
  cssVar(TIER_COLORS[Math.max(0, Math.min(TIER_COLORS.length - 1, tier))]);

type Rect = { x: number; y: number; w: number; h: number };

export type ZoneGroup = {
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

export type Layout = {
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

