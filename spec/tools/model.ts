/** Types of the spec data files, as spec/meta.schema.json describes them. */

export type JsonSchema = Record<string, unknown>;
export type Direction = 'client-to-broker' | 'broker-to-client' | 'routed';
export type Level = 'required' | 'recommended' | 'informational';

export interface MessageSpec {
  code: number;
  name: string;
  kind: 'request' | 'response' | 'notification' | 'error';
  level: Level;
  since: string;
  summary: string;
  directions: Direction[];
  sender: string[];
  receiver: string[];
  response: string | null;
  timeout_ms?: number;
  errors: string[];
  payload: JsonSchema | null;
  examples: unknown[];
  /** Added by the loader from the area file. */
  area: string;
  section: string;
}

export interface AreaSpec {
  area: string;
  title: string;
  section: string;
  description: string;
  messages: Omit<MessageSpec, 'area' | 'section'>[];
  file?: string;
}

export interface ErrorSpec {
  id: number;
  name: string;
  section: string;
  definite: boolean;
  closes: boolean;
  meaning: string;
}

export interface LimitSpec {
  name: string;
  unit: string;
  default: number;
  min: number;
  max: number;
  section: string;
  announced: boolean;
  meaning: string;
}

export interface DtypeSpec {
  name: string;
  kind: 'b' | 'i' | 'u' | 'f';
  itemsize: 1 | 2 | 4 | 8;
  codes: string[];
}

export interface LayoutField {
  name: string;
  type: 'u64le' | 'ascii' | 'bytes' | 'json-object';
  count?: string;
  length?: string;
  meaning: string;
}

export interface NdarrayLayoutSpec {
  description: string;
  section: string;
  fields: LayoutField[];
  max_ndim: number;
  max_dtype_len: number;
  byte_orders: Record<string, string>;
  dtypes: DtypeSpec[];
  json_wrapper: string;
  cbor_tag: number;
  rules: { name: string; meaning: string }[];
}

export interface TransportSpec {
  name: string;
  framing: 'v1' | 'lines';
  address: string;
  default_address?: string;
  section: string;
  summary: string;
}

export interface FramingSpec {
  description: string;
  section: string;
  length_prefix: { bytes: number; byte_order: 'big' | 'little'; meaning: string };
  body_prefix: { name: string; offset: number; bytes: number; byte_order?: 'big' | 'little'; meaning: string }[];
  body_prefix_bytes: number;
  encoding_mask: number;
  reserved_flags_mask: number;
  encodings: { value: number; name: string; meaning: string }[];
}

export interface Section {
  slug: string;
  title: string;
  depth: number;
}

export interface Statement {
  id: string;
  section: string;
  text: string;
  keyword: string;
  level: Level;
}

/** A required statement no peer's behaviour can show (spec/waivers.json), with its reason. */
export interface Waiver {
  id: string;
  reason: string;
}

export interface SpecModel {
  protocolVersion: string;
  messages: MessageSpec[];
  areas: AreaSpec[];
  errorFile: { description: string; errors: ErrorSpec[] };
  limitFile: { description: string; limits: LimitSpec[] };
  ndarray: NdarrayLayoutSpec;
  framing: FramingSpec;
  transportFile: { description: string; transports: TransportSpec[] };
  defsFile: { description: string; $defs: Record<string, JsonSchema> };
  sections: Section[];
  statements: Statement[];
  waivers: Waiver[];
  prose: string;
}
