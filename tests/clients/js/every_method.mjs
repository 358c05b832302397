// Calls every public method of the npm MemoryClient (mem0ai 3.3.1) against mnemo and prints, as one JSON
// object, the client's method names and each method's answer as the client returns it (camelCased keys).
// Run by tests/clients/test_every_method.py, which checks the answers. Env: MNEMO_URL, MNEMO_KEY, HOOK_URL, USER_ID.
import MemoryClient from "mem0ai";

const { MNEMO_URL: host, MNEMO_KEY: apiKey, HOOK_URL: hookUrl, USER_ID: userId } = process.env;
const client = new MemoryClient({ apiKey, host });
const answers = {};
const call = async (name, ...args) => {
  try {
    const answer = await client[name](...args);
    answers[name] = answer === undefined ? null : answer; // ping answers nothing; JSON would drop undefined
  } catch (error) {
    answers[name] = { thrown: String(error.message || error) };
  }
  return answers[name];
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

await call("ping");
const stored = await call("add", [{ role: "user", content: "I live in Lisbon." }, { role: "user", content: "I keep two cats." }], { userId, infer: false });
const [first, second] = stored.results.map((item) => item.id);
const queued = await call("add", "I work as a nurse.", { userId });
for (let i = 0; i < 600; i++) {
  const event = await (await fetch(`${host}/v1/event/${queued.eventId || queued.event_id}/`, { headers: { Authorization: `Token ${apiKey}` } })).json();
  if (event.status === "SUCCEEDED" || event.status === "FAILED") break;
  await sleep(100);
}
await call("get", first);
await call("getAll", { filters: { user_id: userId } });
await call("search", "Where do I live?", { filters: { user_id: userId } });
await call("update", first, { text: "I live in Porto now." });
await call("history", first);
await call("batchUpdate", [{ memoryId: second, text: "I keep three cats." }]);
await call("feedback", { memoryId: first, feedback: "POSITIVE", feedbackReason: "spot on" });
await call("users");
const schema = { type: "object", properties: { memories: { type: "array", items: { type: "string" } } } };
const exported = await call("createMemoryExport", { schema, filters: { user_id: userId } });
await call("getMemoryExport", { memoryExportId: exported.id });
await call("getProfileSettings");
await call("updateProfileSettings", { enabled: true });
const job = await call("generateProfile", { entityId: userId });
await call("getProfileJob", job.statusUrl || job.jobId);
await call("getProfile", { entityId: userId });
await call("sampleProfiles", { limit: 1 });
await call("getProject", { fields: ["customInstructions"] });
await call("updateProject", { customInstructions: "Keep places and pets." });
const hook = await call("createWebhook", { name: "hook", url: hookUrl, eventTypes: ["memory_add"] });
await call("updateWebhook", { webhookId: hook.webhookId, name: "renamed" });
await call("getWebhooks");
await call("deleteWebhook", { webhookId: hook.webhookId });
await call("delete", second);
await call("batchDelete", [first]);
await call("deleteAll", { userId });
await call("deleteUsers", { userId });
await client.add("I cycle to work.", { agentId: `${userId}-agent`, infer: false });
await call("deleteUser", { entity_type: "agent", entity_id: `${userId}-agent` });

const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(client)).filter((name) => !name.startsWith("_") && name !== "constructor");
console.log(JSON.stringify({ methods, answers }));
