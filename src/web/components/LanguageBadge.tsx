import { languageLabel, type Language } from '../language.js';

/** The code's language, on list rows and the editor's status line. */
export function LanguageBadge({ language }: { language: Language }) {
  return (
    <span className="badge" data-testid="language-badge" data-language={language}>
      {languageLabel(language)}
    </span>
  );
}
