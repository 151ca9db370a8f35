// The Node side of tests/test_js_client.py: `node node_driver.mjs '<spec JSON>'` prints followRuns' results.
// spec.client is the module's URL on a server: it is fetched and imported from a data: URL (Node
// imports no http: URLs), so what is tested is the file the server serves.
import { followRuns } from "./follow_runs.mjs";

const spec = JSON.parse(process.argv[2]);
const answer = await fetch(spec.client);
if (answer.status !== 200) throw new Error(`GET ${spec.client}: ${answer.status}`);
const source = await answer.text();
const { followRun } = await import("data:text/javascript;base64," + Buffer.from(source).toString("base64"));
process.stdout.write(JSON.stringify(await followRuns(followRun, spec)));
