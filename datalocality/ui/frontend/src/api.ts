// Types of the plugin's data API and the one fetch helper every view uses.

export type Locality = { clusters: string[]; zones: string[]; nodes: string[] };

export type Replica = {
  index: number;
  node: string;
  cluster?: string;
  zone?: string;
  chunk_count: number;
  bytes: number;
  local_bytes: number;
  moved_bytes: number;
  bytes_by_tier?: number[];
  cost?: number;
  score_terms?: Record<string, number>;
  reason?: string;
};

export type Operation = {
  index: number;
  kind: string;
  scope?: string;
  source?: string;
  node?: string;
  replica?: number | null;
  reason?: string;
  chunk_count?: number;
};

export type LayoutNode = {
  name: string;
  cluster: string;
  region: string;
  zone: string;
  held_bytes: number;
  held_chunks: number;
  replicas: number[];
};

export type IdleNodes = { cluster: string; region: string; zone: string; count: number };

export type Flow = { from: string; to: string; tier: number; bytes: number; chunks?: number };

export type PlacementData = {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  plan_task: string;
  role: string;
  highlight: { replica?: number; operation?: number } | null;
  tier_names: string[];
  plan: {
    strategy: string;
    replicas: Replica[];
    operations: Operation[];
    totals: Record<string, number>;
    notes: string[];
  };
  baseline: { strategy?: string; moved_bytes?: number; replicas?: Replica[] } | null;
  layout: {
    nodes: LayoutNode[];
    idle_nodes: IdleNodes[];
    flows: Flow[];
    other_flow_bytes: number;
  };
};

export type Claim = {
  name: string;
  namespace: string;
  phase: string;
  source: string;
  reclaim_policy: string;
  chunk_count: number;
  bytes: number;
  locality: Locality;
  created: string;
  age_seconds: number | null;
  dag_id: string;
  run_id: string;
  task_id: string;
  placement_path: string;
};

export type Source = {
  name: string;
  phase: string;
  reclaim_policy: string;
  chunk_count: number;
  bytes: number;
  slices: number;
  claims: number;
  locality: Locality;
  created: string;
  age_seconds: number | null;
};

export type ClaimsData = {
  namespace: string;
  dag_ids: string[];
  claims: Claim[];
  sources: Source[];
};

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, 300);
}

// FastAPI's `detail` is a string for HTTPException and a list of {msg, loc} for validation.
function detailOf(body: unknown): string | null {
  if (!body || typeof body !== "object" || !("detail" in body)) return null;
  const detail = (body as { detail: unknown }).detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        if (d && typeof d === "object" && "msg" in d) {
          const loc = "loc" in d && Array.isArray(d.loc) ? `${d.loc.join(".")}: ` : "";
          return `${loc}${String(d.msg)}`;
        }
        return String(d);
      })
      .join("; ");
  }
  return detail == null ? null : JSON.stringify(detail);
}

export function apiUrl(path: string, params: Record<string, string | undefined>): URL {
  const url = new URL(`datalocality/api/${path}`, document.baseURI);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

export async function getJson<T>(url: URL, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin", signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, oneLine(`network error: ${String((err as Error)?.message ?? err)}`));
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = detailOf(body);
    const fallback = `${response.status} ${response.statusText || "error"}`.trim();
    throw new ApiError(response.status, oneLine(detail ?? fallback) || fallback);
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError(response.status, "the server answered with something that is not JSON");
  }
  return body as T;
}
