// Server-side template rules: component validation, {{placeholder}} discovery and rendering.
// Deliberately independent of src/api/validation.ts: the sandbox plays the server, so it must not
// share the client's assumptions.
import { TemplateComponentType, type TemplateComponent } from '../api/gen/ppoppo/external/v1/external';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The first problem with the components, phrased as the INVALID_ARGUMENT message; undefined if fine. */
export function componentProblem(components: readonly TemplateComponent[]): string | undefined {
  if (components.length === 0) return 'components must not be empty';
  let polls = 0;
  for (const [i, c] of components.entries()) {
    const at = `components[${i}]`;
    const need = (field: keyof TemplateComponent, type: string) => `${at}.${field} is required for ${type}`;
    switch (c.componentType) {
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT:
        if (!c.content) return need('content', 'TEXT');
        break;
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_DIVIDER:
        break;
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTON:
        if (!c.label) return need('label', 'BUTTON');
        if (!c.url) return need('url', 'BUTTON');
        break;
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_IMAGE:
        if (!c.url) return need('url', 'IMAGE');
        break;
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_POLL:
        if (!c.question) return need('question', 'POLL');
        if (c.options.length < 2 || c.options.some((o) => !o)) return `${at}.options needs at least 2 non-empty options for POLL`;
        if (++polls > 1) return `${at}: a template has at most one POLL`;
        break;
      default:
        return `${at}.component_type is required`;
    }
  }
  return undefined;
}

function texts(c: TemplateComponent): string[] {
  return [c.content, c.label, c.url, c.alt, c.question, ...c.options].filter((t): t is string => !!t);
}

/** Placeholder names used anywhere in the components, in first-use order. */
export function placeholdersOf(components: readonly TemplateComponent[]): string[] {
  const names = new Set<string>();
  for (const c of components) for (const text of texts(c)) for (const m of text.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return [...names];
}

/** Vars arrive as a protobuf Struct (any JSON value); strings stay, others are stringified. */
export function varText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function fill(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(PLACEHOLDER, (_, name: string) => vars[name] ?? '');
}

/** The message as a recipient would read it, one line per component (stored in the ledger). */
export function renderMessage(components: readonly TemplateComponent[], vars: Readonly<Record<string, string>>): string {
  return components
    .map((c) => {
      switch (c.componentType) {
        case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT:
          return fill(c.content ?? '', vars);
        case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_DIVIDER:
          return '---';
        case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTON:
          return `[${fill(c.label ?? '', vars)}](${fill(c.url ?? '', vars)})`;
        case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_IMAGE:
          return `![${fill(c.alt ?? '', vars)}](${fill(c.url ?? '', vars)})`;
        case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_POLL:
          return [fill(c.question ?? '', vars), ...c.options.map((o) => `( ) ${fill(o, vars)}`)].join('\n');
        default:
          return '';
      }
    })
    .join('\n');
}

export function pollOf(components: readonly TemplateComponent[]): TemplateComponent | undefined {
  return components.find((c) => c.componentType === TemplateComponentType.TEMPLATE_COMPONENT_TYPE_POLL);
}
