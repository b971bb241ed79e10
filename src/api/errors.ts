/**
 * Every `error.code` the API can answer, with its HTTP status and meaning. One handler turns them
 * into `{"error": {"code", "message"}}`; docs/api-errors.md is generated from this table.
 */
export const errorCatalogue = {
  invalid_json: { status: 400, meaning: 'The body is not valid JSON.' },
  invalid_field: { status: 400, meaning: 'A field has the wrong type, format or value; the message names it.' },
  missing_field: { status: 400, meaning: 'A required field is absent; the message names it.' },
  unknown_field: { status: 400, meaning: 'The body has a field the endpoint does not define; the message names it.' },
  no_recipients: { status: 400, meaning: 'The send names no recipient.' },
  no_content: { status: 400, meaning: 'The send has no content for the channel its recipients need (push, email or sms).' },
  too_many_recipients: { status: 400, meaning: 'More than 10,000 recipients in one call (all lists together).' },
  push_payload_too_large: { status: 400, meaning: 'The push, once built, exceeds the 4096 bytes APNs accepts.' },
  reserved_data_key: { status: 400, meaning: 'push.data uses a key Herald reserves (aps, herald).' },
  invalid_web_push_subscription: { status: 400, meaning: 'web_push_subscription is missing, malformed, or given for a platform other than web; the message names the part.' },
  forbidden_address: { status: 400, meaning: 'A provider setting (SMTP host, token_uri, base_url) or a webhook URL names, or resolves to, a loopback, private, link-local or otherwise non-public address; Herald does not connect to private networks. Nothing was stored.' },
  invalid_idempotency_key: { status: 400, meaning: 'The Idempotency-Key header is empty or longer than 255 characters.' },
  unauthorized: { status: 401, meaning: 'No API key, or an unknown or revoked one; or, for a dashboard call, no session or an expired one.' },
  invalid_credentials: { status: 401, meaning: 'A dashboard sign-in whose email and password do not match an operator; the failure is counted toward the sign-in limit.' },
  csrf_token_invalid: { status: 403, meaning: 'A change made with a dashboard session without the session\'s CSRF token in X-CSRF-Token (or with another one); nothing was changed.' },
  role_forbidden: { status: 403, meaning: 'The dashboard operator has no role in the project named by X-Herald-Project, or a role short of what the call needs (viewer reads, editor changes, admin manages keys, credentials and operators); nothing was changed.' },
  project_header_required: { status: 400, meaning: 'A dashboard-session call to a project endpoint without the project\'s id in X-Herald-Project.' },
  too_many_login_attempts: { status: 429, meaning: 'Too many failed dashboard sign-ins for this email (10) or from this address (100) in 15 minutes; Retry-After says when the oldest leaves the window.' },
  already_set_up: { status: 409, meaning: 'The install already has its owner account; the first-visit setup is closed.' },
  operator_email_taken: { status: 409, meaning: 'An operator with this email exists; give it a role in the project instead.' },
  operator_not_found: { status: 404, meaning: 'No dashboard operator with this id.' },
  forbidden_for_sdk_key: { status: 403, meaning: 'A public SDK key called an endpoint that needs the secret REST key.' },
  identity_required: { status: 403, meaning: 'An SDK-key call acting for a custom_id (attaching an installation to it, changing an installation or profile attached to it, logging it out) without identity_token, or moving an installation attached to one custom_id to another without logging it out first; nothing was changed.' },
  invalid_identity_token: { status: 403, meaning: 'identity_token is not the HMAC-SHA256 (hex) of the custom_id under the project\'s identity secret (or the project has none: rotate one); nothing was changed.' },
  invalid_webhook_signature: { status: 403, meaning: 'A provider webhook without a valid signature (X-Twilio-Signature) for this project; nothing was changed.' },
  malformed_request: { status: 400, meaning: 'The request line or a header is not valid HTTP/1.1; the connection is closed.' },
  invalid_path: { status: 400, meaning: 'The path is not valid percent-encoded UTF-8 (such as %zz).' },
  request_incomplete: { status: 400, meaning: 'The request body ended before it was complete (the client stopped or the connection dropped); nothing was stored.' },
  not_found: { status: 404, meaning: 'No such route.' },
  message_not_found: { status: 404, meaning: 'No message with this id in this project.' },
  suppression_not_found: { status: 404, meaning: 'This address is not on the project\'s email suppression list.' },
  invalid_unsubscribe_token: { status: 400, meaning: 'The unsubscribe link is not one Herald made, or was altered; nothing was changed.' },
  expired_unsubscribe_token: { status: 410, meaning: 'The unsubscribe link is more than a year old (links are valid for a year); nothing was changed. Use the link of a recent message.' },
  invalid_tracking_token: { status: 400, meaning: 'The tracking link (open pixel or click redirect) is not one Herald made, or was altered; nothing was recorded and no redirect was made.' },
  invalid_unsubscribe_request: { status: 400, meaning: 'A one-click unsubscribe POST must carry List-Unsubscribe=One-Click (RFC 8058); nothing was changed.' },
  request_timeout: { status: 408, meaning: 'The headers or the body did not arrive in time (or stalled); nothing was stored and the connection is closed.' },
  body_too_large: { status: 413, meaning: 'The request body exceeds 1 MiB (256 MiB for a bulk import or an audience upload); nothing was stored.' },
  path_too_long: { status: 414, meaning: 'A path segment is longer than the API reads (8,192 bytes, percent-encoded).' },
  headers_too_large: { status: 431, meaning: 'The request headers exceed 16 KiB.' },
  unsupported_media_type: { status: 415, meaning: 'The body must be application/json (application/x-ndjson for a bulk import; application/x-ndjson or text/csv for an audience upload).' },
  too_many_operations: { status: 400, meaning: 'More operations than one call takes (200 per profile update, 1,000,000 lines per bulk import).' },
  too_many_events: { status: 400, meaning: 'More events than one call or operation takes (100 per SDK batch, 50 per profile operation).' },
  invalid_query: { status: 400, meaning: 'The targeting query is not valid; the message names the path of the bad node (such as body.query.all[2].gt) and why.' },
  segment_not_found: { status: 404, meaning: 'No segment with this id in this project.' },
  invalid_when: { status: 400, meaning: 'A campaign\'s `when` is not valid; the message names the field (such as body.when.late.within_minutes) and why.' },
  invalid_template: { status: 400, meaning: 'A Liquid template in a campaign\'s content does not parse, or names a filter that does not exist; the message names the field (such as body.content.email.subject). Nothing was stored.' },
  invalid_campaign: { status: 400, meaning: 'The campaign\'s parts do not fit together (a channel without its content, variant shares over 100%, duplicate channels); the message says which.' },
  invalid_timezone: { status: 400, meaning: 'The time zone is not an IANA zone name this server\'s tz database knows (such as Europe/Paris); nothing was changed.' },
  campaign_not_found: { status: 404, meaning: 'No campaign with this id in this project.' },
  invalid_export: { status: 400, meaning: 'The export\'s fields do not fit its kind (a campaign_id on a profiles export, a segment_members export without segment_id); the message names the field.' },
  export_not_found: { status: 404, meaning: 'No export with this id in this project, or it has no file (still running, failed, expired, or written in another data folder).' },
  export_link_invalid: { status: 403, meaning: 'The download link was not issued by Herald or was changed; nothing is served.' },
  export_link_expired: { status: 410, meaning: 'The download link has expired; GET /v1/exports/{id} gives a new one while the export is kept.' },
  campaign_state_conflict: { status: 409, meaning: 'The campaign is in a state that does not allow the call (editing a running campaign, resuming one that is not paused); the message names the state. Nothing was changed.' },
  invalid_automation: { status: 400, meaning: 'The automation\'s definition is not valid: the message names the path of the bad node (such as body.definition.steps[2].then) and why. Its conditions and templates answer invalid_query and invalid_template. Nothing was stored.' },
  automation_not_found: { status: 404, meaning: 'No automation with this id in this project.' },
  automation_state_conflict: { status: 409, meaning: 'The automation is in a state that does not allow the call (changing or entering a stopped one, deleting a live one, starting one that is not a draft); the message names the state. Nothing was changed.' },
  capping_rule_not_found: { status: 404, meaning: 'No capping rule with this id in this project.' },
  invalid_capping_rule: { status: 400, meaning: 'The capping rule\'s parts do not fit together (a label without scope label, defer without max_delay_minutes, a window over 90 days); the message says which. Nothing was stored.' },
  invalid_quiet_hours: { status: 400, meaning: 'Quiet hours whose start and end are the same time; nothing was stored.' },
  segment_name_taken: { status: 409, meaning: 'The project already has a segment with this name; nothing was changed.' },
  segment_in_use: { status: 409, meaning: 'Another segment names this one in its query; change that one first. Nothing was changed.' },
  audience_not_found: { status: 404, meaning: 'No audience with this id in this project.' },
  audience_name_taken: { status: 409, meaning: 'The project already has an audience with this name; nothing was changed.' },
  audience_in_use: { status: 409, meaning: 'A saved segment names this audience in its query; change that segment first. Nothing was changed.' },
  indexing_token_not_found: { status: 404, meaning: 'No change with this indexing token on this audience in this project.' },
  too_many_ids: { status: 400, meaning: 'More custom_ids than one call takes (10,000 per member change, add and remove together; 10,000,000 per upload); nothing was changed.' },
  profile_not_found: { status: 404, meaning: 'No profile with this custom_id in this project.' },
  installation_not_found: { status: 404, meaning: 'No installation with this install_id in this project; register it first (POST /v1/sdk/installations).' },
  import_job_not_found: { status: 404, meaning: 'No bulk import with this id in this project.' },
  too_many_uploads: { status: 429, meaning: 'The project already has as many bulk uploads (profile imports and audience uploads together) streaming into this API process as it may; retry after one ends (Retry-After).' },
  rate_limited: { status: 429, meaning: 'The project sent more than its rate allows; nothing was stored. Retry after the Retry-After delay.' },
  unknown_provider: { status: 404, meaning: 'The provider is none of apns, fcm, webpush, smtp, sms.' },
  provider_not_configured: { status: 404, meaning: 'This project has no credentials for this provider.' },
  webhook_not_found: { status: 404, meaning: 'No webhook endpoint with this id in this project.' },
  api_key_not_found: { status: 404, meaning: 'No API key with this id in this project.' },
  last_rest_key: { status: 409, meaning: 'Revoking this key would leave the project without an active REST key; create another first. Nothing was changed.' },
  vapid_keys_required: { status: 409, meaning: 'The web push (VAPID) keys cannot be deleted: browsers subscribed with them. PUT a new pair to replace them.' },
  invalid_apns_key: { status: 422, meaning: 'The APNs private key is not an EC P-256 private key in PEM (the .p8 file).' },
  invalid_service_account: { status: 422, meaning: 'The FCM service account is not a service-account key file with an RSA private key.' },
  invalid_vapid_keys: { status: 422, meaning: 'The VAPID private key is not P-256, or the public key is not its public half.' },
  invalid_dkim_key: { status: 422, meaning: 'The DKIM private key is not an RSA private key of 1024 bits or more in PEM.' },
  smtp_unreachable: { status: 422, meaning: 'The SMTP server could not be reached (refused, timed out, or unknown host); nothing was stored.' },
  smtp_tls_failed: { status: 422, meaning: 'TLS or STARTTLS with the SMTP server failed; nothing was stored.' },
  smtp_auth_failed: { status: 422, meaning: 'The SMTP server refused the username and password; nothing was stored.' },
  smtp_rejected: { status: 422, meaning: 'The SMTP server answered but did not accept the session; nothing was stored.' },
  idempotency_key_reused: { status: 422, meaning: 'This Idempotency-Key was used with a different request body.' },
  database_unavailable: { status: 503, meaning: 'PostgreSQL cannot be reached or cannot store right now (restarting, disk full, overloaded); nothing was stored. Retry after the Retry-After delay.' },
  internal_error: { status: 500, meaning: 'A bug in Herald; nothing was acknowledged. Please report it.' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error the API answers as-is. Throw it from a route; the error handler renders it. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = errorCatalogue[code].status;
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}
