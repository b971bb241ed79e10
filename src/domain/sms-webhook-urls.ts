/** The webhook URLs Herald gives a Twilio-compatible provider (served by api/routes/sms-webhooks.ts). Pure. */

/** The StatusCallback URL Herald gives Twilio for a send; naming the delivery finds it even before its SID is recorded. */
export function smsStatusCallbackUrl(publicBaseUrl: string, projectId: string, deliveryId?: string): string {
  const base = `${publicBaseUrl.replace(/\/+$/, '')}/v1/webhooks/sms/${encodeURIComponent(projectId)}/status`;
  return deliveryId === undefined ? base : `${base}?d=${encodeURIComponent(deliveryId)}`;
}

/** The URL to configure as the sending number's (or Messaging Service's) incoming-message webhook. */
export function smsInboundUrl(publicBaseUrl: string, projectId: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/v1/webhooks/sms/${encodeURIComponent(projectId)}/inbound`;
}
