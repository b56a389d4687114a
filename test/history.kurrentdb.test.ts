// The history suite again, in KurrentDB mode (see testEventLogMode): the group log's page size.
process.env.FAIRSHARE_TEST_EVENT_LOG = 'kurrentdb-double';
await import('./history.test.js');
