/** The sms part of a message: its text. */
import { Type } from '@sinclair/typebox';

export const SmsContent = Type.Object(
  { text: Type.String({ minLength: 1, maxLength: 1600, description: 'Up to 1,600 characters (10 segments of UCS-2, more of GSM-7).' }) },
  { additionalProperties: false },
);
