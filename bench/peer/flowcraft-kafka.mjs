// Flowcraft's Kafka adapter (npm "@flowcraft/kafka-adapter") under the same
// load shapes as bench/load.py, on the same Kafka, Cassandra and Redis.
//
// Usage: node flowcraft-kafka.mjs <cache dir holding node_modules> [options]
//   --shape chain|fan|diamond|wide|etl   --nodes N   --runs R   --concurrency C
//   --kafka host:port  --cassandra host:port  --redis host:port
//   --workers W (KafkaAdapter instances in this process, one consumer each; default 6)
//   --partitions P (default max(6, W))   --run-timeout S (default 120)   --keep
//   --churn S: every S seconds stop one worker (adapter.stop()) and start a new
//     one, as a rolling restart does; consumer group rebalances under load
//   --redeliver F: send each job the workers enqueue a second time with
//     probability F (Kafka delivers at least once: a producer retry or a consumer
//     that dies before committing delivers a job twice); shows how the adapter
//     copes with duplicates
//
// Prints one JSON object on stdout; everything else goes to stderr.
//
// Each run gets a fresh id; its start job is produced the way the adapter's docs
// show (context and status rows in Cassandra, then the start job to the topic).
// Workers are KafkaAdapter instances started with adapter.start(); a run is done
// when the adapter calls publishFinalResult for it (observed by a subclass that
// calls the original first). Node code records its start and end times in this
// process, so hop latency is successor start minus (last) predecessor end, the
// same definition bench/distributed.py uses on Legato's history.
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const [cacheDir, ...rest] = process.argv.slice(2)
const { values: opt } = parseArgs({
  args: rest,
  options: {
    shape: { type: 'string', default: 'chain' },
    nodes: { type: 'string', default: '20' },
    runs: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    kafka: { type: 'string', default: '127.0.0.1:9092' },
    cassandra: { type: 'string', default: '127.0.0.1:9042' },
    redis: { type: 'string', default: '127.0.0.1:6379' },
    workers: { type: 'string', default: '6' },
    partitions: { type: 'string' },
    'run-timeout': { type: 'string', default: '120' },
    churn: { type: 'string', default: '0' },
    redeliver: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
  },
})
const shape = opt.shape
const nodesArg = Number(opt.nodes)
const totalRuns = Number(opt.runs)
const concurrency = Number(opt.concurrency)
const workers = Number(opt.workers)
const partitions = Number(opt.partitions ?? Math.max(6, workers))
const runTimeoutMs = Number(opt['run-timeout']) * 1000
const redeliver = Number(opt.redeliver)
let redelivered = 0

const nm = (p) => pathToFileURL(path.join(cacheDir, 'node_modules', p)).href
const { KafkaAdapter, RedisCoordinationStore } = await import(nm('@flowcraft/kafka-adapter/dist/index.mjs'))
const { createFlow, analyzeBlueprint } = await import(nm('flowcraft/dist/index.mjs'))
const { Kafka, logLevel } = (await import(nm('kafkajs/index.js'))).default
const cassandra = (await import(nm('cassandra-driver/index.js'))).default
const Redis = (await import(nm('ioredis/built/index.js'))).default

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`)
const now = () => performance.timeOrigin + performance.now() // ms, one clock for the process

// ---- observations, filled by node code and the adapter subclass -------------
const execs = new Map() // runId -> Map(nodeId -> [{start, end, out}])
const finals = new Map() // runId -> [status, ...] (every publishFinalResult call)
const waiters = new Map() // runId -> resolve
const doneAt = new Map() // runId -> nodes executed when the run was first declared completed
let loggedErrors = 0
let loggedWarnings = 0
const errorSamples = []

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function makeStep(nodeId, sleepMs) {
  return async ({ input }) => {
    const start = now()
    if (sleepMs) await sleep(sleepMs)
    const run = input?.run
    const v = (typeof input?.v === 'number' ? input.v : 0) + 1
    const out = { run, v }
    let perRun = execs.get(run)
    if (!perRun) execs.set(run, (perRun = new Map()))
    let list = perRun.get(nodeId)
    if (!list) perRun.set(nodeId, (list = []))
    list.push({ start, end: now(), v })
    return { output: out }
  }
}

// ---- shapes: the definitions of bench/loadkit/shapes.py ----------------------
// chain: n in a line; fan: src, n branches, an `all` join; diamond: k = (n-1)//3
// stacked diamonds (3k+1 nodes); wide: src, 4 chains of (n-2)//4, a join; etl: the
// fixed 9-node ETL with 5-20 ms waits in node code. Each node adds 1 to its input
// (Flowcraft hands a join the output of whichever predecessor arrived last).
// Returns [flow, preds] where preds maps node id -> predecessor ids.
const WIDE_WIDTH = 4
function build(kind, n) {
  const preds = new Map()
  let f = createFlow(`fc_${kind}_${n}`)
  const node = (id, sleepMs = 0) => {
    f = f.node(id, makeStep(id, sleepMs))
    preds.set(id, [])
  }
  const edge = (a, b) => {
    f = f.edge(a, b)
    preds.get(b).push(a)
  }
  if (kind === 'chain') {
    for (let i = 0; i < n; i++) node(`n${i}`)
    for (let i = 1; i < n; i++) edge(`n${i - 1}`, `n${i}`)
  } else if (kind === 'fan') {
    node('src')
    node('join')
    for (let i = 0; i < Math.max(1, n); i++) { node(`b${i}`); edge('src', `b${i}`); edge(`b${i}`, 'join') }
  } else if (kind === 'diamond') {
    node('d0')
    for (let k = 1; k <= Math.max(1, Math.floor((n - 1) / 3)); k++) {
      const top = `d${k - 1}`, bottom = `d${k}`
      node(`l${k}`); node(`r${k}`); node(bottom)
      edge(top, `l${k}`); edge(top, `r${k}`); edge(`l${k}`, bottom); edge(`r${k}`, bottom)
    }
  } else if (kind === 'wide') {
    const depth = Math.max(1, Math.floor((n - 2) / WIDE_WIDTH))
    node('src')
    node('join')
    for (let w = 0; w < WIDE_WIDTH; w++) {
      let prev = 'src'
      for (let d = 0; d < depth; d++) { node(`c${w}_${d}`); edge(prev, `c${w}_${d}`); prev = `c${w}_${d}` }
      edge(prev, 'join')
    }
  } else if (kind === 'etl') {
    // Legato's `settle` is a durable legato.sleep of 10 ms; here a 10 ms wait in node code.
    node('extract_users', 5); node('extract_orders', 15); node('join'); node('clean')
    node('enrich_geo', 10); node('enrich_fx', 20); node('merge'); node('settle', 10); node('load', 5)
    for (const [a, b] of [
      ['extract_users', 'join'], ['extract_orders', 'join'], ['join', 'clean'],
      ['clean', 'enrich_geo'], ['clean', 'enrich_fx'], ['enrich_geo', 'merge'],
      ['enrich_fx', 'merge'], ['merge', 'settle'], ['settle', 'load'],
    ]) edge(a, b)
  } else {
    throw new Error(`unknown shape ${kind}`)
  }
  return [f, preds]
}

const [flow, preds] = build(shape, nodesArg)
const blueprint = flow.toBlueprint()
blueprint.metadata = { ...(blueprint.metadata ?? {}), version: '1' }
const registry = Object.fromEntries(flow.getFunctionRegistry())
const analysis = analyzeBlueprint(blueprint)
const nodeIds = blueprint.nodes.map((n) => n.id)

// ---- servers ----------------------------------------------------------------
const name = `fcbench_${randomUUID().replaceAll('-', '').slice(0, 8)}`
const topic = `${name}.jobs`
const keyspace = name
const [chost, cport] = opt.cassandra.split(':')
const [rhost, rport] = opt.redis.split(':')

const kafkaLog = () => ({ level, log: l }) => {
  if (level <= logLevel.WARN) process.stderr.write(`[kafkajs ${level}] ${l.message}\n`)
}
const kafka = new Kafka({ clientId: name, brokers: opt.kafka.split(','), logLevel: logLevel.WARN, logCreator: kafkaLog })
const cass = new cassandra.Client({
  contactPoints: [chost],
  protocolOptions: { port: Number(cport) },
  localDataCenter: 'datacenter1',
})
await cass.connect()
const redis = new Redis({ host: rhost, port: Number(rport), lazyConnect: false })

await cass.execute(`CREATE KEYSPACE ${keyspace} WITH REPLICATION = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
// The adapter's README lists status_data and updated_at; its code also writes
// a `status` column (onJobStart, publishFinalResult, the reconciler), so it is here too.
await cass.execute(`CREATE TABLE ${keyspace}.contexts (run_id text PRIMARY KEY, context_data text)`)
await cass.execute(`CREATE TABLE ${keyspace}.statuses (run_id text PRIMARY KEY, status text, status_data text, updated_at timestamp)`)

const admin = kafka.admin()
await admin.connect()
await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
// Committed offsets at 0 before any consumer joins: the adapter subscribes with
// fromBeginning: false, which would skip jobs produced before its first fetch.
await admin.setOffsets({ groupId: name, topic, partitions: [...Array(partitions).keys()].map((p) => ({ partition: p, offset: '0' })) })

const silent = {
  debug() {}, info() {},
  warn(...a) { loggedWarnings++; if (errorSamples.length < 5) errorSamples.push(`warn: ${a[0]}`) },
  error(...a) { loggedErrors++; if (errorSamples.length < 5) errorSamples.push(`error: ${a[0]}`) },
}

// Where a step's time goes: Cassandra and Redis calls, handleJob time, and the
// queue delay (enqueueJob to handleJob start; the job carries its send time).
const prof = { cql: 0, cql_ms: 0, redis: 0, jobs: 0, handle_ms: 0, queue: [] }
const execute = cass.execute.bind(cass)
cass.execute = async (...a) => {
  const t = now()
  try { return await execute(...a) } finally { prof.cql++; prof.cql_ms += now() - t }
}

class ObservedKafkaAdapter extends KafkaAdapter {
  async enqueueJob(job) {
    await super.enqueueJob({ ...job, sentAt: now() })
    if (redeliver > 0 && Math.random() < redeliver) {
      redelivered++
      await super.enqueueJob({ ...job, sentAt: now() })
    }
  }
  async handleJob(job) {
    const t = now()
    if (job.sentAt) prof.queue.push(t - job.sentAt)
    try { return await super.handleJob(job) } finally { prof.jobs++; prof.handle_ms += now() - t }
  }
  async publishFinalResult(runId, result) {
    await super.publishFinalResult(runId, result)
    let list = finals.get(runId)
    if (!list) finals.set(runId, (list = []))
    list.push(result.status)
    if (result.status === 'completed' && !doneAt.has(runId)) doneAt.set(runId, execs.get(runId)?.size ?? 0)
    const w = waiters.get(runId)
    if (w) { waiters.delete(runId); w(result.status) }
  }
}

const coordinationStore = new RedisCoordinationStore(redis)
for (const m of ['increment', 'setIfNotExist', 'delete', 'extendTTL', 'get']) {
  const f = coordinationStore[m].bind(coordinationStore)
  coordinationStore[m] = (...a) => { prof.redis++; return f(...a) }
}
const adapters = []
function newWorker() {
  const a = new ObservedKafkaAdapter({
    runtimeOptions: { blueprints: { [blueprint.id]: blueprint }, registry, logger: silent },
    coordinationStore,
    kafka,
    cassandraClient: cass,
    keyspace,
    contextTableName: 'contexts',
    statusTableName: 'statuses',
    topicName: topic,
    groupId: name,
  })
  a.start()
  adapters.push(a)
  return a
}
for (let i = 0; i < workers; i++) newWorker()
for (let t = 0; ; t++) { // wait until every consumer holds its partitions
  const { groups } = await admin.describeGroups([name])
  const g = groups[0]
  if (g.state === 'Stable' && g.members.length === workers) break
  if (t > 600) throw new Error(`consumer group did not settle: ${g.state}, ${g.members.length} members`)
  await sleep(100)
}

const client = kafka.producer()
await client.connect()
const startNodes = analysis.startNodeIds

async function startRun(runId) {
  // As the adapter's docs start a run: context and status rows, then the start jobs.
  // blueprintId/blueprintVersion must be in the initial context: handleJob drops
  // (with only a warning) any job whose stored version differs from the blueprint's.
  const ctx = { blueprintId: blueprint.id, blueprintVersion: '1' }
  for (const s of startNodes) ctx[`_inputs.${s}`] = { run: runId, v: 0 }
  await cass.execute(`INSERT INTO ${keyspace}.contexts (run_id, context_data) VALUES (?, ?)`, [runId, JSON.stringify(ctx)], { prepare: true })
  await cass.execute(`INSERT INTO ${keyspace}.statuses (run_id, status, updated_at) VALUES (?, ?, ?)`, [runId, 'running', new Date()], { prepare: true })
  await client.send({ topic, messages: startNodes.map((nodeId) => ({ key: runId, value: JSON.stringify({ runId, blueprintId: blueprint.id, nodeId }) })) })
}

async function oneRun() {
  const runId = randomUUID()
  const t0 = now()
  const done = new Promise((resolve) => {
    waiters.set(runId, resolve)
    setTimeout(() => { if (waiters.delete(runId)) resolve('timeout') }, runTimeoutMs)
  })
  try {
    await startRun(runId)
  } catch (e) {
    waiters.delete(runId)
    return { runId, status: 'start_failed', ms: now() - t0, error: String(e) }
  }
  const status = await done
  return { runId, status, ms: now() - t0 }
}

// ---- warm-up, then closed loop ----------------------------------------------
const warm = await oneRun()
if (warm.status !== 'completed') log(`warm-up run: ${warm.status}`)
const results = []
let started = 0
const tStart = now()
const cpu0 = process.cpuUsage()
async function loop() {
  while (started < totalRuns) {
    started++
    results.push(await oneRun())
  }
}
let restarts = 0
const churnMs = Number(opt.churn) * 1000
const churner = churnMs > 0 && setInterval(async () => {
  const old = adapters.shift()
  newWorker()
  restarts++
  await old.stop().catch((e) => log(`stop: ${e}`))
}, churnMs)
await Promise.all(Array.from({ length: concurrency }, loop))
const elapsedS = (now() - tStart) / 1000
const cpu = process.cpuUsage(cpu0)
if (churner) clearInterval(churner)
await sleep(500) // late duplicate deliveries still count as defects

// ---- report -----------------------------------------------------------------
const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0
}
const r2 = (x) => Math.round(x * 100) / 100
const hops = []
let steps = 0
const defects = { lost_steps: 0, duplicate_steps: 0, duplicate_joins: 0, early_starts: 0, wrong_input: 0, duplicate_completions: 0, completed_early: 0, never_finished: 0, failed_runs: 0 }
for (const r of results) {
  const perRun = execs.get(r.runId) ?? new Map()
  const fin = finals.get(r.runId) ?? []
  if (r.status === 'timeout' || r.status === 'start_failed') defects.never_finished++
  if (r.status === 'failed') defects.failed_runs++
  if (fin.filter((s) => s === 'completed').length > 1) defects.duplicate_completions++
  let missing = 0
  for (const id of nodeIds) {
    const list = perRun.get(id) ?? []
    if (list.length === 0) { missing++; continue }
    steps++
    if (list.length > 1) {
      defects.duplicate_steps += list.length - 1
      if (preds.get(id).length > 1) defects.duplicate_joins += list.length - 1
    }
    const ps = preds.get(id)
    const first = list[0]
    if (ps.length === 0) {
      if (first.v !== 1) defects.wrong_input++
      continue
    }
    const pe = ps.map((p) => perRun.get(p)?.[0])
    if (pe.some((e) => !e)) continue
    if (!pe.some((e) => e.v + 1 === first.v)) defects.wrong_input++
    const hop = first.start - Math.max(...pe.map((e) => e.end))
    if (hop < 0) defects.early_starts++ // began before a predecessor finished
    hops.push(hop)
  }
  defects.lost_steps += missing
  if (r.status === 'completed' && (doneAt.get(r.runId) ?? 0) < nodeIds.length) defects.completed_early++
}
const runMs = results.filter((r) => r.status === 'completed').map((r) => r.ms)
const completed = runMs.length
const report = {
  engine: 'flowcraft-kafka',
  versions: {
    '@flowcraft/kafka-adapter': '1.4.4', flowcraft: '2.10.1', kafkajs: '2.2.4', 'cassandra-driver': '4.10.0', ioredis: '5.10.1', node: process.versions.node,
  },
  shape,
  nodes: nodeIds.length,
  runs: totalRuns,
  concurrency,
  workers,
  partitions,
  churn_restarts: restarts,
  redelivered,
  completed,
  errors: results.length - completed + loggedErrors,
  logged_errors: loggedErrors,
  logged_warnings: loggedWarnings,
  steps,
  seconds: r2(elapsedS),
  steps_per_s: r2(steps / elapsedS),
  runs_per_s: r2(completed / elapsedS),
  hop_p50_ms: r2(pct(hops, 0.5)),
  hop_p90_ms: r2(pct(hops, 0.9)),
  hop_p99_ms: r2(pct(hops, 0.99)),
  hop_max_ms: r2(hops.length ? Math.max(...hops) : 0),
  run_p50_ms: r2(pct(runMs, 0.5)),
  run_p99_ms: r2(pct(runMs, 0.99)),
  defects: Object.values(defects).reduce((a, b) => a + b, 0),
  defect_kinds: defects,
  warmup: warm.status,
  profile: {
    jobs: prof.jobs,
    handle_job_ms_mean: r2(prof.handle_ms / Math.max(1, prof.jobs)),
    queue_ms_p50: r2(pct(prof.queue, 0.5)),
    queue_ms_p99: r2(pct(prof.queue, 0.99)),
    cql_per_job: r2(prof.cql / Math.max(1, prof.jobs)),
    cql_ms_mean: r2(prof.cql_ms / Math.max(1, prof.cql)),
    redis_per_job: r2(prof.redis / Math.max(1, prof.jobs)),
    node_cpu_ms_per_step: r2((cpu.user + cpu.system) / 1000 / Math.max(1, steps)),
  },
}
if (errorSamples.length) report.error_samples = errorSamples
console.log(JSON.stringify(report))

// ---- cleanup (own names only) -------------------------------------------------
const cleanup = async () => {
  await Promise.all(adapters.map((a) => a.stop().catch(() => {})))
  await client.disconnect().catch(() => {})
  if (!opt.keep) {
    await admin.deleteTopics({ topics: [topic] }).catch((e) => log(`delete topic: ${e}`))
    await admin.deleteGroups([name]).catch(() => {})
    await cass.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch((e) => log(`drop keyspace: ${e}`))
    const ids = [warm.runId, ...results.map((r) => r.runId)]
    const joins = nodeIds.filter((id) => preds.get(id).length > 1)
    const keys = ids.flatMap((id) => [`flowcraft:blueprint:${id}`, ...joins.map((j) => `flowcraft:fanin:${id}:${j}`)])
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500)).catch(() => {})
  }
  await admin.disconnect().catch(() => {})
  await cass.shutdown().catch(() => {})
  redis.disconnect()
}
await Promise.race([cleanup(), sleep(20000)])
process.exit(0)
