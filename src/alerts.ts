// One-off alerts: a pre-formatted text to some ppnums, sent at once through a one-component
// template ("{{message}}") that is found by name or created on first use, then remembered.
import type { CallOptions, PpoppoClient } from './api/client';
import { AlreadyExistsError, FailedPreconditionError, GRPC_CODES, InvalidRecipientsError } from './api/errors';
import type { RecipientInput, SendReceipt, TemplateComponentSpec, TemplateInfo } from './api/types';
import { extractPlaceholders } from './api/validation';

export interface AlertInput {
  text: string;
  ppnums?: string[];
  /** Recipients with their own vars; `message` is set to `text` for each. */
  recipients?: RecipientInput[];
}

export const ALERT_TEMPLATE_NAME = 'ppoppo-campaigns-alert';
const ALERT_COMPONENTS: TemplateComponentSpec[] = [{ type: 'text', content: '{{message}}' }];

export class AlertSender {
  /** Template id per template name, found or created once (a failed lookup is tried again next time). */
  readonly #templates = new Map<string, Promise<string>>();

  constructor(
    private readonly client: PpoppoClient,
    private readonly templateName = ALERT_TEMPLATE_NAME,
  ) {}

  async send(input: AlertInput, options: CallOptions = {}): Promise<SendReceipt> {
    const recipients: RecipientInput[] = [
      ...(input.ppnums ?? []).map((ppnum) => ({ ppnum, vars: { message: input.text } })),
      ...(input.recipients ?? []).map((recipient) => ({ ppnum: recipient.ppnum, vars: { ...recipient.vars, message: input.text } })),
    ];
    if (recipients.length === 0) throw new InvalidRecipientsError('sendAlert', [{ field: 'ppnums', message: 'an alert needs at least one ppnum' }]);
    const templateId = await this.templateId(options);
    return this.client.createSendRequest({ templateId, recipients }, options);
  }

  /** The alert template's id, found or created on first use (no send: the rate limit is not spent). */
  templateId(options: CallOptions = {}): Promise<string> {
    let pending = this.#templates.get(this.templateName);
    if (!pending) {
      pending = this.ensureTemplate(options);
      pending.catch(() => this.#templates.delete(this.templateName));
      this.#templates.set(this.templateName, pending);
    }
    return pending;
  }

  private async ensureTemplate(options: CallOptions): Promise<string> {
    const name = this.templateName;
    const usable = (template: TemplateInfo) => {
      const placeholders = extractPlaceholders(template.components);
      if (placeholders.length !== 1 || placeholders[0] !== 'message') {
        const details = `template "${name}" (${template.id}) exists but is not an alert template: it must have the single placeholder {{message}}`;
        throw new FailedPreconditionError({ grpcCode: GRPC_CODES.FAILED_PRECONDITION, method: 'sendAlert', details });
      }
      return template.id;
    };
    const existing = await this.client.findTemplateByName(name, options);
    if (existing) return usable(existing);
    try {
      return (await this.client.createTemplate({ name, description: 'Alerts: one text, sent as is', components: ALERT_COMPONENTS }, options)).id;
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      const created = await this.client.findTemplateByName(name, options); // created concurrently by someone else
      if (!created) throw err;
      return usable(created);
    }
  }
}
