// The plugin bundle: registers both views on globalThis under the names Airflow looks up.
import { DataLocality } from "./DataLocality";
import { Placement } from "./Placement";

const g = globalThis as unknown as Record<string, unknown>;
g["Placement"] = Placement;
g["Data Locality"] = DataLocality;

export { DataLocality, Placement };
