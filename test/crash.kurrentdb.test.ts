// The crash suite again, in KurrentDB mode: the gRPC double (in this process) is the event
// log; each server process, killed and restarted, projects into PostgreSQL.
process.env.FAIRSHARE_TEST_EVENT_LOG = 'kurrentdb-double';
await import('./crash.test.js');
