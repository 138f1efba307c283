// JSON shapes of the routes the pages read (serve/routes_*.py), and of the OpenAI
// routes' `attribution` extension (serve/public_code.py).

/** One match of a text against the server's code index (`--index`). */
export interface Attribution {
  repo: string;
  path: string;
  license: string;
  license_type: string; // permissive | no_license | non_permissive
  query_start: number; // character span in the suggestion / query
  query_end: number;
  source_start: number; // character span in the indexed file
  source_end: number;
  length: number; // normalised characters matched
  similarity: number; // 0..1
  in_dataset?: boolean; // dataset search only: the file is in the loaded dataset
}

export interface Summary {
  mean: number | null;
  p50: number | null;
  p95: number | null;
  count: number;
}

export interface Status {
  version: string;
  model: { id: string; family: string; license: string; format: string; context_length: number };
  engine: string;
  n_ctx: number;
  queue: { depth: number; max: number };
  requests: number;
  tokens: { prompt: number; cached: number; generated: number };
  time_to_first_token_s: Summary;
  decode_tokens_per_second: Summary;
  public_code: { mode: string; blocked: number; matched: number; min_chars: number | null };
  dataset: { path: string; files: number } | null;
  reports: string | null;
  optout_admin: boolean;
  api_key: boolean;
  uptime_s: number;
}

export interface ModelInfo {
  id: string;
  context_length: number;
  license: string;
}

export interface Counts {
  files: number;
  bytes: number;
}

export interface DatasetStats {
  kept_files: number;
  kept_bytes: number;
  total_files: number;
  excluded: Record<string, number>;
  redactions: Record<string, number>;
  languages: Record<string, Counts>;
  licenses: Record<string, Counts>;
}

export interface DatasetInfo {
  path: string;
  card: string;
  stats: DatasetStats;
  repos: number;
  snippet_search: boolean;
  min_chars: number | null;
}

export interface FileRow {
  repo: string;
  path: string;
  language: string;
  license: string;
  license_type: string;
  size: number;
  sha256: string;
  redactions: Record<string, number>;
}

export interface FileView extends FileRow {
  content: string;
  shard: string;
}

export interface RepoSummary {
  repo: string;
  files: number;
  bytes: number;
  licenses: string[];
  excluded: Record<string, number>;
}

export interface Excluded {
  repo: string;
  path: string;
  reason: string;
}

export interface OptOutRequest {
  id: string;
  name: string;
  contact: string;
  repos: string[];
  authors: string[];
  note: string;
  created: string;
  status: string;
  decided: string | null;
}

export interface ReportSummary {
  id: string;
  task: string;
  model: string;
  metric: string;
  metrics: Record<string, number>;
  mode: string;
  n_problems: number;
  n_samples: number;
  date: string;
  commit: string;
  chart: boolean;
}

export interface ReportDetail extends ReportSummary {
  statuses: Record<string, number>;
  sampling: Record<string, unknown>;
  model_info: Record<string, unknown>;
  markdown: string;
}

export interface ProblemSample {
  task_id: string;
  sample: number;
  prompt: string | null;
  completion: string;
  passed: boolean;
  status: string;
  stderr: string;
  duration: number | null;
}
