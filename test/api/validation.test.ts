import { describe, expect, it } from 'vitest';
import type { TemplateComponentSpec } from '../../src/api/types';
import { checkVars, extractPlaceholders, isValidPpnum, missingVars, renderTemplate, urlTemplates, validateComponents, validateRecipients } from '../../src/api/validation';

describe('isValidPpnum', () => {
  it('accepts 11 or more ASCII digits only', () => {
    expect(isValidPpnum('12300000001')).toBe(true);
    expect(isValidPpnum('123000000011234')).toBe(true);
    expect(isValidPpnum('1230000000')).toBe(false); // 10 digits
    expect(isValidPpnum('123-0000-0001')).toBe(false);
    expect(isValidPpnum(' 12300000001')).toBe(false);
    expect(isValidPpnum('1230000000１')).toBe(false); // full-width digit
    expect(isValidPpnum(12300000001)).toBe(false);
    expect(isValidPpnum('')).toBe(false);
  });
});

describe('validateRecipients', () => {
  it('keeps valid recipients, reports issues by index and field, and drops duplicates (first wins)', () => {
    const result = validateRecipients(
      [
        { ppnum: '12300000001', vars: { first_name: 'Ann' } },
        { ppnum: '123', vars: { first_name: 'Bob' } },
        { ppnum: '12300000002', vars: {} },
        { ppnum: '12300000001', vars: { first_name: 'Ann again' } },
        { ppnum: '12300000003', vars: { first_name: 7 } },
        'not an object',
        { vars: {} },
      ],
      { requiredVars: ['first_name'] },
    );
    expect(result.recipients).toEqual([{ ppnum: '12300000001', vars: { first_name: 'Ann' } }]);
    expect(result.duplicates).toEqual([{ index: 3, ppnum: '12300000001', firstIndex: 0 }]);
    expect(result.issues.map(({ index, field }) => [index, field])).toEqual([
      [1, 'ppnum'],
      [2, 'vars.first_name'],
      [4, 'vars.first_name'],
      [5, 'recipient'],
      [6, 'ppnum'],
    ]);
    // An invalid ppnum is named by its position, never quoted: issue texts end up in statuses and logs.
    expect(result.issues[0]).toEqual({ index: 1, field: 'ppnum', message: expect.stringContaining('11 or more digits') });
    expect(result.issues[0]!.message).not.toContain('123');
    expect(result.issues[1]!.message).toContain('missing or empty');
    expect(result.issues[2]!.message).toContain('must be a string');
  });

  it('checks links after rendering: a placeholder link that renders to anything but http(s) is an invalid row, named by variable', () => {
    const links = urlTemplates([
      { type: 'text', content: 'Hi {{name}}' },
      { type: 'button', label: 'Open', url: '{{link}}' },
      { type: 'image', url: 'https://cdn.example/{{img}}.png' },
      { type: 'button', label: 'Fixed', url: 'https://example.com' },
    ]);
    expect(links).toEqual(['{{link}}', 'https://cdn.example/{{img}}.png']);
    const result = validateRecipients(
      [
        { ppnum: '12300000001', vars: { link: 'https://shop.example/a', img: 'x' } },
        { ppnum: '12300000002', vars: { link: 'javascript:alert(document.cookie)', img: 'x' } },
        { ppnum: '12300000003', vars: { link: '  data:text/html,hi', img: 'x' } },
        { ppnum: '12300000004', vars: { link: 'HTTPS://shop.example/b', img: 'x' } },
      ],
      { requiredVars: ['link', 'img'], urlTemplates: links },
    );
    expect(result.recipients.map((r) => r.ppnum)).toEqual(['12300000001', '12300000004']);
    expect(result.issues).toEqual([
      { index: 1, ppnum: '12300000002', field: 'vars.link', message: 'a link of the template is "{{link}}": with this row\'s "link" it is not an http:// or https:// address' },
      { index: 2, ppnum: '12300000003', field: 'vars.link', message: expect.stringContaining('not an http:// or https:// address') },
    ]);
    expect(JSON.stringify(result.issues)).not.toContain('javascript');
    expect(checkVars({ link: 'mailto:x@example.org' }, { urlTemplates: ['{{link}}'] })).toEqual({ field: 'vars.link', message: expect.stringContaining('"link"') });
  });

  it('treats missing vars as empty and needs nothing when no vars are required', () => {
    expect(validateRecipients([{ ppnum: '12300000001' }]).recipients).toEqual([{ ppnum: '12300000001', vars: {} }]);
  });

  it('missingVars lists absent and empty values', () => {
    expect(missingVars(['a', 'b', 'c'], { a: 'x', b: '' })).toEqual(['b', 'c']);
  });
});

describe('validateComponents', () => {
  it('accepts every component type when well formed', () => {
    const components: TemplateComponentSpec[] = [
      { type: 'text', content: 'Hi {{ first_name }}' },
      { type: 'divider' },
      { type: 'button', label: 'Open', url: 'https://example.com/{{id}}' },
      { type: 'image', url: 'https://example.com/a.png', alt: 'logo' },
      { type: 'poll', question: 'Coming?', options: ['yes', 'no'] },
    ];
    expect(validateComponents(components)).toEqual([]);
  });

  it('names the component and field of each problem', () => {
    const issues = validateComponents([
      { type: 'text', content: '' },
      { type: 'button', label: 'Go', url: 'ftp://x' },
      { type: 'poll', question: 'Q', options: ['only one'] },
      { type: 'text', content: 'Hello {{first name}}' },
      { type: 'video' },
      { type: 'poll', question: 'Q2', options: ['a', 'a'] },
    ]);
    expect(issues.map((issue) => issue.field)).toEqual([
      'components[0].content',
      'components[1].url',
      'components[2].options',
      'components[3].content',
      'components[4].type',
      'components[5].type',
      'components[5].options[1]',
    ]);
    expect(validateComponents([])).toEqual([{ field: 'components', message: expect.stringContaining('at least one') }]);
  });
});

describe('extractPlaceholders and renderTemplate', () => {
  const components: TemplateComponentSpec[] = [
    { type: 'text', content: 'Hi {{first_name}}, your code is {{ code }}.' },
    { type: 'button', label: 'See {{code}}', url: 'https://x.test/{{id}}' },
    { type: 'image', url: 'https://x.test/i.png', alt: '{{alt_text}}' },
    { type: 'poll', question: 'Will {{first_name}} come?', options: ['Yes', 'No {{reason}}'] },
    { type: 'divider' },
  ];

  it('finds placeholders in text, button, image and poll, in first-appearance order', () => {
    expect(extractPlaceholders(components)).toEqual(['first_name', 'code', 'id', 'alt_text', 'reason']);
  });

  it('renders a preview, leaving unknown placeholders visible', () => {
    const text = renderTemplate(components, { first_name: 'Ann', code: '42', id: '7' });
    expect(text).toBe(['Hi Ann, your code is 42.', '[See 42](https://x.test/7)', '![{{alt_text}}](https://x.test/i.png)', 'Will Ann come?\n- Yes\n- No {{reason}}', '---'].join('\n'));
  });
});
