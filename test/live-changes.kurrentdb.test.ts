// The live-changes suite again, in KurrentDB mode: the gRPC double is the event log, PostgreSQL
// the read model, a log subscriber runs beside the app (see testEventLogMode).
process.env.FAIRSHARE_TEST_EVENT_LOG = 'kurrentdb-double';
await import('./live-changes.test.js');
