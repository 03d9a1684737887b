// Event sender (Etcha's "trigger patterns" tutorial): pushed to a source whose `eventsSend`
// allows `trigger`, it fires the event; every source with `eventsReceive: ['trigger']` then runs
// with ETCHA_EVENT_NAME=trigger, ETCHA_EVENT_ID='trigger event', ETCHA_EVENT_OUTPUT='hello world'.
//   etcha push -h HOST trigger examples/patterns/event/trigger.jsonnet
{
  run: [
    {
      id: 'trigger event',
      always: true,
      change: 'echo hello world',
      onChange: ['etcha:trigger'],
    },
  ],
  runExec: {
    command: '/bin/sh -c',
  },
}
