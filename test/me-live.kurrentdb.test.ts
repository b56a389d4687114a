// The home stream suite again, in KurrentDB mode (see testEventLogMode).
process.env.FAIRSHARE_TEST_EVENT_LOG = 'kurrentdb-double';
await import('./me-live.test.js');
