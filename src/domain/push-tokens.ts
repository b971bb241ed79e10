/**
 * What a device push token may look like, checked wherever one enters (the SDK's installations, the
 * REST send's `recipients.tokens`) and again before a send, for tokens stored before these checks.
 * A token travels in the provider request (APNs: in the `:path`), so one that is not of the
 * provider's shape is refused as bad input rather than sent to fail at the provider, or in Node's
 * HTTP/2 layer, where it would look like the provider being down.
 *
 * Pure: no I/O.
 */

/**
 * APNs device tokens are bytes written in hex: 32 bytes today, of variable length by Apple's word
 * ("Don't hard-code the size of device tokens",
 * https://developer.apple.com/documentation/usernotifications/registering-your-app-with-apns).
 * 64 hex digits at least; up to 256 bytes leaves room for longer ones and keeps the `:path` small.
 * Either case: Apple's examples print lower case, some SDKs upper case; the token is kept as given.
 */
export const apnsTokenPattern = /^[0-9A-Fa-f]{64,512}$/;

/**
 * FCM registration tokens are opaque, but what Firebase issues is an instance id, a colon and a
 * base64url blob (about 140 to 250 characters): letters, digits, `-`, `_` and `:`
 * (https://firebase.google.com/docs/cloud-messaging/manage-tokens). The bounds refuse what no token
 * is (a word, a page of text) without betting on today's exact length.
 */
export const fcmTokenPattern = /^[A-Za-z0-9_:-]{32,1024}$/;

/** Why `token` cannot be a push token of `platform`, or undefined when it can. */
export function pushTokenProblem(platform: 'ios' | 'android', token: string): string | undefined {
  if (platform === 'ios') {
    return apnsTokenPattern.test(token) ? undefined
      : 'an APNs device token is 64 to 512 hexadecimal digits';
  }
  return fcmTokenPattern.test(token) ? undefined
    : 'an FCM registration token is 32 to 1024 characters of letters, digits, "-", "_" and ":"';
}
