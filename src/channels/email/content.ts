/** The email part of a message: its subject, bodies and sender identity. */
import { Type } from '@sinclair/typebox';
import { oneLine } from '../../domain/email-message.js';

// No whitespace, so no CR or LF: the addresses become the From and Reply-To headers.
export const emailAddress = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' });

export const EmailContent = Type.Object(
  {
    // A header field is one line (RFC 5322 §2.2): a CR or LF would end it and start another of the sender's choosing.
    subject: Type.String({ minLength: 1, maxLength: 998, pattern: oneLine, description: 'One line: no CR or LF.' }),
    html: Type.Optional(Type.String({ minLength: 1, maxLength: 512 * 1024 })),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 512 * 1024 })),
    from: Type.Optional({ ...emailAddress, description: 'One of the project\'s sender identities; the first when absent.' }),
    reply_to: Type.Optional(emailAddress),
  },
  { additionalProperties: false },
);
