// An Actor as it runs on the Apify platform, unchanged: it reads its input, does its work and
// writes its result to its run's default store. Run it against kvstore with
//   kvs run --input-json '{"text": "hello kvstore", "times": 3}' -- node main.js
// (README.md, "Running Actors against kvstore").
import { Actor } from 'apify';

await Actor.init();

const input = (await Actor.getInput()) ?? {};
const text = String(input.text ?? 'hello');
const times = Number.isInteger(input.times) && input.times > 0 ? input.times : 1;

await Actor.setStatusMessage(`Repeating "${text}" ${times} times`);
const words = Array.from({ length: times }, (_, i) => `${i + 1}: ${text}`);

// OUTPUT is what the console shows in the run's Output tab.
await Actor.setValue('OUTPUT', { text, times, words, length: words.join('\n').length });

// A store by name lives on after the run (the run's default store follows its retention).
const history = await Actor.openKeyValueStore('example-history');
const count = ((await history.getValue('count')) ?? 0) + 1;
await history.setValue('count', count);

await Actor.exit(`Done: ${times} lines, run number ${count}`);
