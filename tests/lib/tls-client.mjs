// tls-client.mjs — the official apify-client against KVS_URL (https://) with KVS_TOKEN, run as
// its own process by tls.test.mjs so that NODE_EXTRA_CA_CERTS (read by Node only at start)
// makes it trust the test's certificate. Nothing else is configured: the client verifies the
// server as it would any HTTPS server. Prints one JSON line with what it saw.
import { ApifyClient } from 'apify-client';

const client = new ApifyClient({ baseUrl: process.env.KVS_URL, token: process.env.KVS_TOKEN, maxRetries: 0 });
const store = await client.keyValueStores().getOrCreate(process.env.KVS_STORE);
const kvs = client.keyValueStore(store.id);
await kvs.setRecord({ key: 'greeting', value: { hello: 'over TLS' } });
const big = 'x'.repeat(200_000); // compressed by the client (br), several TLS records each way
await kvs.setRecord({ key: 'big', value: big, contentType: 'text/plain' });
const rec = await kvs.getRecord('greeting');
const bigBack = await kvs.getRecord('big');
const keys = await kvs.listKeys();
console.log(
    JSON.stringify({
        storeId: store.id,
        value: rec.value,
        contentType: rec.contentType,
        bigOk: bigBack.value === big,
        keys: keys.items.map((i) => i.key),
        exists: await kvs.recordExists('greeting'),
        missing: await kvs.recordExists('nope'),
    }),
);
