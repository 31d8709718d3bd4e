/**
 * Multilingual cue words for the task kinds the scorer detects. Words map to a kind, never to a
 * weight: the weights are learned per kind, so a German prompt that asks for code lands on the
 * same `kind:code` weight as an English one. Entries are lower case, NFC. A `*` suffix marks a
 * stem: it matches any word that starts with it (checked for words of 5+ letters only).
 *
 * Kept to words that name the task, not its topic: "design" or "architecture" as a topic word
 * says little about whether a cheap model will do (that is what the old keyword count got wrong).
 */
export const KINDS = ['code', 'math', 'extraction', 'reasoning', 'writing', 'roleplay', 'smalltalk', 'translation'] as const;
export type Kind = (typeof KINDS)[number];

const CUES: Record<Kind, string> = {
  code: `
    code coding program programming programmier* script function funktion* method methode class klasse
    bug bugs debug* compile* compiler refactor* implement* implementier* regex regexp sql query api endpoint
    python javascript typescript java rust golang kotlin swift php ruby bash shell powershell html css
    json yaml xml dockerfile kubernetes react nodejs pandas numpy algorithm* algorithmus datenstruktur*
    snippet variable variablen loop schleife array exception stacktrace unittest syntax`,
  math: `
    calculate* compute* berechne* rechne* ausrechnen solve löse lösen equation* gleichung* integral* derivative*
    ableitung* probability wahrscheinlichkeit* percent percentage prozent sum summe average durchschnitt*
    total insgesamt wieviel cost* kostet profit gewinn ratio verhältnis
    theorem proof prove beweise beweis matrix matrizen vector vektor* polynomial polynom* geometry geometrie
    algebra statistic* statistik* formula formel* digits ziffern fraction bruch remainder quotient
    math mathematik* arithmetic`,
  extraction: `
    extract* extrahier* parse* classify klassifizier* categorize* kategorisier* label* tag entities entitäten
    fields felder table tabelle* csv spreadsheet format* reformat* convert* konvertier* umwandeln summarize*
    summary zusammenfass* fasse tl;dr keywords schlüsselwörter`,
  reasoning: `
    why warum weshalb wieso explain* erkläre* erklären reason* begründe* begründung analyze* analyse* analysier*
    compare* vergleich* evaluate* evaluier* bewerte* assess* pros cons vorteile nachteile tradeoff* trade-off*
    plan planen strategy strategie* optimi* step schritt schritte logic* logik* puzzle rätsel riddle deduce*
    infer* implication* consequence* konsequenz* hypothes* cause ursache* difference unterschied*`,
  writing: `
    write schreibe schreib schreiben story geschichte* poem gedicht* essay aufsatz* letter brief email e-mail
    mail blog post article artikel* lyrics songtext song haiku limerick novel roman chapter kapitel
    slogan tweet caption bildunterschrift speech rede paraphrase* rephrase* rewrite* umformulier*
    formuliere* draft entwurf* creative kreativ* joke witz* headline überschrift`,
  roleplay: `
    pretend roleplay rollenspiel roleplaying persona dungeon abenteuer`,
  smalltalk: `
    hi hello hey hallo moin servus thanks thank danke dankeschön bye tschüss ciao cheers
    morning morgen evening abend weather wetter lol haha ok okay cool nice schön`,
  translation: `
    translate* translation* übersetze* übersetz* übersetzung* translator dolmetsch*`,
};

/** Two-word cues (matched on consecutive words). */
const BIGRAMS: Record<string, Kind> = {
  'step by': 'reasoning',
  'schritt für': 'reasoning',
  'think through': 'reasoning',
  'act as': 'roleplay',
  'you are': 'roleplay',
  'du bist': 'roleplay',
  'tu so': 'roleplay',
  'stell dir': 'roleplay',
  'how are': 'smalltalk',
  'wie geht': 'smalltalk',
  'good morning': 'smalltalk',
  'guten morgen': 'smalltalk',
  'guten tag': 'smalltalk',
  'how many': 'math',
  'wie viele': 'math',
  'how much': 'math',
  'wie viel': 'math',
  'in english': 'translation',
  'auf deutsch': 'translation',
  'ins deutsche': 'translation',
  'ins englische': 'translation',
};

export interface CueTable {
  words: Map<string, Kind>;
  stems: Map<string, Kind>;
  bigrams: Map<string, Kind>;
  stemLengths: number[];
}

function build(): CueTable {
  const words = new Map<string, Kind>();
  const stems = new Map<string, Kind>();
  for (const kind of KINDS) {
    for (const raw of CUES[kind].split(/\s+/)) {
      const w = raw.normalize('NFC');
      if (w === '') continue;
      if (w.endsWith('*')) stems.set(w.slice(0, -1), kind);
      else if (!words.has(w)) words.set(w, kind);
    }
  }
  const stemLengths = [...new Set([...stems.keys()].map((s) => s.length))].sort((a, b) => a - b);
  return { words, stems, bigrams: new Map(Object.entries(BIGRAMS)), stemLengths };
}

export const CUE_TABLE: CueTable = build();

/** The kind a word (lower case) cues, by exact word first, then by its longest known stem. */
export function kindOfWord(w: string, t: CueTable = CUE_TABLE): Kind | undefined {
  const exact = t.words.get(w);
  if (exact !== undefined || w.length < 5) return exact;
  for (let i = t.stemLengths.length - 1; i >= 0; i--) {
    const n = t.stemLengths[i]!;
    if (n > w.length) continue;
    const k = t.stems.get(w.slice(0, n));
    if (k !== undefined) return k;
  }
  return undefined;
}

/** German function words: enough of them in a text says "German" without any English lexicon. */
export const GERMAN_MARKERS: ReadonlySet<string> = new Set(
  'und der das ist nicht ich du sie wir ein eine einen mit für auf dem des sich auch bitte wie warum kann können mein meine wird werden oder aber noch nur zum zur über'.split(' '),
);
