// `npm start`: the sample authorization server (AUTH_PORT, default 4000) and print server (PRINT_PORT, default 4100).
import { onEachEvent, startSample } from './sample';
import { DEMO } from './seed';

async function main(): Promise<void> {
  const sample = await startSample({
    authPort: Number(process.env.AUTH_PORT ?? 4000),
    printPort: Number(process.env.PRINT_PORT ?? 4100),
    ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
    ...(process.env.TOKENWARD_KEY_SECRET
      ? { keyEncryptionSecret: process.env.TOKENWARD_KEY_SECRET }
      : {}),
    ...(process.env.DEVICE_IDLE_TTL ? { deviceIdleTtl: Number(process.env.DEVICE_IDLE_TTL) } : {}),
  });
  const { issuer, printUrl } = sample;
  const m = sample.auth.metadata();
  const ps = `${DEMO.printService.id}:${DEMO.printService.secret}`;
  const { alice } = DEMO;
  console.log(`tokenward sample (${sample.storeName}, device sessions idle after ${sample.deviceIdleTtl} s)
  authorization server: ${issuer}
    metadata:      ${issuer}/.well-known/oauth-authorization-server
    jwks:          ${m.jwks_uri}
    authorize:     ${m.authorization_endpoint}  (nobody signed in: the sample's own login page, ${issuer}/login)
    token:         ${m.token_endpoint}
    revocation:    ${m.revocation_endpoint}
    introspection: ${m.introspection_endpoint}
    metrics:       ${issuer}/metrics
  cloud print API:      ${printUrl}  (remote-mode guard, introspecting as ${DEMO.printService.id})
  demo page:            ${printUrl}/demo  (two apps on one device in your browser, their tokens bound to its DPoP key; DEVICE_IDLE_TTL=10 to watch sessions idle)

Try:
  curl -s -u ${ps} -d grant_type=client_credentials -d scope=print ${m.token_endpoint}
  curl -s -d grant_type=password -d client_id=${DEMO.mobileApp.id} -d username=${alice.username} -d password=${alice.password} -d device_id=phone-1 ${m.token_endpoint}
  curl -s -i -H "Authorization: Bearer ACCESS_TOKEN" ${printUrl}/print/jobs
  curl -s -d grant_type=refresh_token -d client_id=${DEMO.mobileApp.id} -d refresh_token=REFRESH_TOKEN ${m.token_endpoint}
  curl -s -u ${ps} -d token=ACCESS_TOKEN ${m.introspection_endpoint}
  npm run demo   # walks through families, renewal hints, device sessions, tenants and scopes here`);

  // The audit event stream (ids and reasons only, never a credential), one line per event.
  onEachEvent(sample.auth, (line) => console.log(line));

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    sample.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
