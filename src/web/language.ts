// The languages user code can be written in, by the API's names. "pythonfaas" is RudderStack's
// name for Python; the API also takes "python" and stores it as "pythonfaas".

export type Language = 'javascript' | 'pythonfaas';

export const languages: readonly { id: Language; label: string }[] = [
  { id: 'javascript', label: 'JavaScript' },
  { id: 'pythonfaas', label: 'Python' },
];

/** The language of a resource as the API answered it: absent (older servers) means JavaScript. */
export function languageOf(value: string | null | undefined): Language {
  return value === 'pythonfaas' || value === 'python' ? 'pythonfaas' : 'javascript';
}

export function languageLabel(language: Language): string {
  return language === 'pythonfaas' ? 'Python' : 'JavaScript';
}
