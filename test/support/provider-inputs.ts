/** Valid provider credentials made fresh for a test (real keys), and the secrets in them to look for. */
import { createECDH, generateKeyPairSync } from 'node:crypto';

const pkcs8 = (k: { export(o: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) => k.export({ type: 'pkcs8', format: 'pem' }).toString();

export function apnsInput() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { team_id: 'ABCDE12345', key_id: 'KEY1234567', private_key_pem: pkcs8(privateKey), topic: 'com.example.app', environment: 'sandbox' as const };
}

export function fcmInput() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    service_account: {
      type: 'service_account', project_id: 'demo-project', private_key_id: 'a'.repeat(40), private_key: pkcs8(privateKey),
      client_email: 'sender@demo-project.iam.gserviceaccount.com', token_uri: 'https://oauth2.googleapis.com/token',
      client_id: '1234567890', auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    },
  };
}

/** A VAPID pair as the web-push library writes it: base64url public point and raw private scalar. */
export function vapidPair() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { public_key: ecdh.getPublicKey('base64url', 'uncompressed'), private_key: ecdh.getPrivateKey('base64url') };
}

export function dkimKey(bits = 1024): string {
  return pkcs8(generateKeyPairSync('rsa', { modulusLength: bits }).privateKey);
}

export function smsInput() {
  return { account_sid: 'AC' + 'c'.repeat(32), auth_token: 'f00dfeedf00dfeedf00dfeedf00dfeed', from: '+15005550006' };
}

/** A browser's PushSubscription JSON with real keys. */
export function webPushSubscription(endpoint = 'https://push.example.net/push/abc123') {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey('base64url', 'uncompressed'), auth: Buffer.alloc(16, 7).toString('base64url') },
  };
}

/** The base64 body of a PEM, where its secret bits are. */
export function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}
