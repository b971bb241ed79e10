/**
 * What each figure of the analytics screens means, shown beside it: the definitions of
 * docs/analytics.md ("The metrics"), said for someone reading a dashboard rather than the code.
 */
import type { Counter } from './stats-math.js';

type Rate = 'open_rate' | 'click_rate' | 'click_to_open_rate' | 'delivery_rate';

export const figures: readonly { key: Counter | Rate; label: string; help: string }[] = [
  { key: 'sent', label: 'Sent', help: 'Deliveries the provider accepted.' },
  { key: 'delivered', label: 'Delivered', help: 'A receipt came back: an SMS delivery report, or the app\'s first "received" report of a push. Email has none.' },
  { key: 'failed', label: 'Failed', help: 'Deliveries that ended failed, expired or invalidated (a dead token, a hard bounce), an SMS the carrier refused after accepting it, or content that did not render.' },
  { key: 'skipped', label: 'Skipped', help: 'Targets not sent to: suppressed, opted out, unsubscribed, capped, a campaign\'s control group, a late time zone (the reasons are below).' },
  { key: 'bounces', label: 'Bounces', help: 'Emails refused for their mailbox (5.1.x); also counted in Failed.' },
  { key: 'complaints', label: 'Complaints', help: 'Reserved: Herald receives no feedback-loop reports yet, so this stays 0.' },
  { key: 'unsubscribes', label: 'Unsubscribes', help: 'Addresses newly unsubscribed by the one-click link of an email.' },
  { key: 'opens_unique', label: 'Unique opens', help: 'The first open of each delivery by a person (an email\'s pixel, a push\'s open report). Opens by a privacy proxy are excluded.' },
  { key: 'opens_total', label: 'Total opens', help: 'Every email pixel load by a person; a push is opened once.' },
  { key: 'opens_machine', label: 'Machine opens', help: 'First opens fetched by a proxy such as Apple Mail Privacy Protection: recorded, never in the opens above.' },
  { key: 'opens_influenced', label: 'Influenced opens', help: 'App opens within 3 hours after a push that was received but not opened directly.' },
  { key: 'clicks_unique', label: 'Unique clicks', help: 'The first click on any tracked link of each delivery.' },
  { key: 'clicks_total', label: 'Total clicks', help: 'Every click on a tracked link.' },
  { key: 'open_rate', label: 'Open rate', help: 'Unique opens ÷ sent, on every channel (not over delivered: email has no receipt). A dash when nothing was sent.' },
  { key: 'click_rate', label: 'Click rate', help: 'Unique clicks ÷ sent. A dash when nothing was sent.' },
  { key: 'click_to_open_rate', label: 'Click-to-open rate', help: 'Unique clicks ÷ unique opens: of the people who opened, how many clicked.' },
  { key: 'delivery_rate', label: 'Delivery rate', help: 'Delivered ÷ sent: meaningful for SMS, and for pushes whose app reports receipts.' },
];

export const isRateKey = (key: string): key is Rate => key.endsWith('_rate');

/** The counters a chart can draw over time, in the order of the picker. */
export const chartable: readonly Counter[] = ['sent', 'delivered', 'failed', 'skipped', 'opens_unique', 'clicks_unique', 'bounces', 'unsubscribes'];

export const labelOf = (key: string): string => figures.find((f) => f.key === key)?.label ?? key;
