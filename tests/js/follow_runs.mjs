// Shared by the Node and the Chromium tests (tests/test_js_client.py): follows runs with followRun
// as a user's code would, and says what each one got. No Node or browser API: it runs in both.
//
// spec: {token, runs: [{name, url, after?, token?, closeAfter?}]} (closeAfter: close() from onEvent after that many). For each run: the events in the order
// onEvent got them ({id, type, data}), every value onEnd was called with, and the error `done`
// rejected with, if any.
export async function followRuns(followRun, spec) {
  const results = {};
  await Promise.all(spec.runs.map(async (run) => {
    const out = (results[run.name] = { events: [], ends: [], error: null });
    const follower = followRun(run.url, {
      after: run.after || 0,
      token: run.token === undefined ? spec.token : run.token,
      onEvent: (data, meta) => {
        out.events.push({ id: meta.id, type: meta.type, data });
        if (out.events.length === run.closeAfter) follower.close();
      },
      onEnd: (terminal) => out.ends.push(terminal),
    });
    try {
      out.done = await follower.done;
    } catch (error) {
      out.error = { name: error.name, status: error.status, message: error.message };
    }
  }));
  // A moment for anything that would call onEnd again, or reconnect, to show itself.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return results;
}
