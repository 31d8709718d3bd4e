/**
 * The `auto` scorer (issue 11): each feature on English, German and mixed prompts, the
 * structure features from the body, the explanation, thresholds → tier, and the property that
 * adding a code block or a math derivation never lowers the score.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { autoThresholds, classify } from '../../src/routing/classify.js';
import { DOMAINS, domainOfWord, KINDS, kindOfWord } from '../../src/routing/cues.js';
import { extractFeatures, FEATURES, splitMaterial, type Feature, type RouteRequest } from '../../src/routing/features.js';
import { emptyCounts, scanText, type TextCounts } from '../../src/routing/scan.js';
import { DEFAULT_MODEL, explain, scoreFeatures, scoreRequest, thresholdForShare, tierForScore } from '../../src/routing/scorer.js';

const user = (content: string): RouteRequest => ({ messages: [{ role: 'user', content }] });
const f = (req: RouteRequest, name: Feature): number => extractFeatures(req)[FEATURES.indexOf(name)]!;
const fu = (text: string, name: Feature): number => f(user(text), name);
/**
 * The question words of identification a text asks with, as `ask:identify` reads them before its
 * length gate (sat(words, 2); the feature is that times the gate, 0 for a question of 8 words or
 * fewer: see the test of the gate).
 */
const ident = (text: string): number => {
  const c = emptyCounts();
  scanText(text, c);
  return Math.min(c.identifyWords / 2, 1);
};

describe('task kinds, English and German alike', () => {
  const cases: Array<[Feature, string, string]> = [
    ['kind:code', 'Write a Python function that parses the log and fix the bug.', 'Schreib eine Python-Funktion, die das Log parst, und behebe den Bug.'],
    ['kind:math', 'Calculate the probability and solve the equation.', 'Berechne die Wahrscheinlichkeit und löse die Gleichung.'],
    [
      'kind:multistep',
      'She sold 12 of them, then bought 5 more than before; how many are left?',
      'Sie verkaufte 12, danach kaufte sie 5 mehr als vorher; wie viele sind übrig?',
    ],
    ['kind:extraction', 'Extract the fields into a table and summarize them.', 'Extrahiere die Felder in eine Tabelle und fasse sie zusammen.'],
    ['kind:reasoning', 'Analyze the trade-offs and reason step by step.', 'Analysiere die Strategie und begründe Schritt für Schritt.'],
    ['kind:explain', 'Explain why, and compare the two.', 'Erkläre warum, und vergleiche beide.'],
    ['kind:writing', 'Write a poem and a short story.', 'Schreibe ein Gedicht und eine kurze Geschichte.'],
    ['kind:roleplay', 'You are a pirate. Pretend we are at sea.', 'Du bist ein Pirat. Stell dir vor, wir sind auf See.'],
    ['kind:smalltalk', 'Hello! Thanks, how are you?', 'Hallo! Danke, wie geht es dir?'],
    ['kind:translation', 'Translate this sentence.', 'Übersetze diesen Satz.'],
  ];
  for (const [kind, en, de] of cases) {
    it(`${kind}: "${en}" / "${de}"`, () => {
      expect(fu(en, kind)).toBeGreaterThan(0);
      expect(fu(de, kind)).toBeGreaterThan(0);
      expect(fu('The cat sat on the mat.', kind)).toBe(0);
    });
  }

  it('stems match inflections and compounds (German verbs, English -ing/-ed)', () => {
    expect(kindOfWord('berechnen')).toBe('math');
    expect(kindOfWord('berechnung')).toBe('math');
    expect(kindOfWord('übersetzung')).toBe('translation');
    expect(kindOfWord('implementiere')).toBe('code');
    expect(kindOfWord('calculating')).toBe('math');
    expect(kindOfWord('summarized')).toBe('extraction');
    expect(kindOfWord('design')).toBeUndefined(); // a topic word, not a task
  });

  it('is case- and Unicode-aware: umlauts and capitals match', () => {
    expect(fu('ÜBERSETZE DAS BITTE', 'kind:translation')).toBeGreaterThan(0);
    expect(fu('Löse: x + 2 = 5', 'kind:math')).toBeGreaterThan(0);
  });

  it('a mixed-language prompt gets the kinds of both languages', () => {
    const mixed = 'Bitte übersetze this paragraph, then write a Python function für die Berechnung.';
    expect(fu(mixed, 'kind:translation')).toBeGreaterThan(0);
    expect(fu(mixed, 'kind:code')).toBeGreaterThan(0);
    expect(fu(mixed, 'kind:math')).toBeGreaterThan(0);
  });
});

describe('task kinds in French, Spanish, Italian, Portuguese and Dutch', () => {
  const kinds = (text: string): string[] => KINDS.filter((k) => fu(text, `kind:${k}`) > 0);
  // [kind, French, Spanish, Italian, Portuguese, Dutch]
  const cases: Array<[(typeof KINDS)[number], string, string, string, string, string]> = [
    [
      'code',
      'Écris une fonction Python qui inverse une chaîne.',
      'Escribe una función que ordene una lista.',
      'Scrivi una funzione che restituisce il massimo.',
      'Escreva um código que leia um arquivo.',
      'Schrijf een functie die een lijst sorteert.',
    ],
    [
      'math',
      "Résous l'équation 2x + 3 = 11.",
      'Resuelve la ecuación 3x + 7 = 22.',
      'Calcola la probabilità di ottenere due sei.',
      'Resolva a equação x^2 - 5x + 6 = 0.',
      'Bereken de oppervlakte van een cirkel.',
    ],
    [
      'multistep',
      'Marie a 12 pommes, puis elle en donne 5 à Paul.',
      'Juan tenía 20 euros y después gastó 8.',
      'Luca aveva 15 caramelle, poi ne ha mangiate 4.',
      'Ana tinha 30 reais e depois gastou 12.',
      'Piet had 10 knikkers, daarna gaf hij er 3 weg.',
    ],
    [
      'extraction',
      'Extrais tous les noms de ce texte.',
      'Extrae los nombres del siguiente texto.',
      'Riassumi questo testo in tre frasi.',
      'Resuma o texto a seguir.',
      'Maak een samenvatting van deze tekst.',
    ],
    [
      'reasoning',
      'Raisonne étape par étape pour trouver la réponse.',
      'Analiza la estrategia de la empresa paso a paso.',
      'Ragiona passo dopo passo sulla strategia.',
      'Analise a estratégia da empresa passo a passo.',
      'Analyseer dit raadsel stap voor stap.',
    ],
    [
      'explain',
      'Pourquoi le ciel est-il bleu ?',
      '¿Por qué el cielo es azul?',
      'Spiegami perché il cielo è blu.',
      'Explique a diferença entre TCP e UDP.',
      'Waarom is de lucht blauw?',
    ],
    [
      'writing',
      "Écris un poème sur l'automne.",
      'Escribe un cuento corto sobre un robot.',
      'Scrivi una lettera al mio capo.',
      'Escreva uma piada sobre gatos.',
      'Schrijf een kort verhaal over een robot.',
    ],
    [
      'roleplay',
      "Tu es un pirate. Fais semblant d'être en mer.",
      'Eres un caballero medieval. Actúa como tal.',
      'Sei un mercante medievale. Comportati come tale.',
      'Você é um detetive. Finja que estamos em 1920.',
      'Je bent een piraat. Doe alsof we op zee zijn.',
    ],
    ['smalltalk', 'Bonjour ! Comment vas-tu ?', '¡Hola! ¿Cómo estás?', 'Ciao, come stai?', 'Olá! Tudo bem?', 'Hoi! Hoe gaat het?'],
    [
      'translation',
      'Traduis cette phrase en anglais.',
      'Traduce este párrafo al inglés.',
      'Traduci questa frase in inglese.',
      'Traduza este texto para o inglês.',
      'Vertaal deze zin naar het Engels.',
    ],
  ];
  for (const [kind, ...texts] of cases) {
    it(`${kind}: ${texts.map((t) => `"${t}"`).join(' / ')}`, () => {
      for (const text of texts) expect(kinds(text), text).toContain(kind);
    });
  }

  it('the rules hold in every language: a write verb with a code cue is code, small talk inside a translation is the text', () => {
    for (const text of ['Écris une fonction Python.', 'Escribe una función.', 'Scrivi una funzione.', 'Escreva uma função.', 'Schrijf een functie.'])
      expect(kinds(text), text).toEqual(['code']);
    for (const text of ['Écris une lettre.', 'Escribe una carta a mi jefe.', 'Scrivi una lettera.', 'Escreva um poema.', 'Schrijf een verhaal.'])
      expect(kinds(text), text).toEqual(['writing']);
    for (const text of ['Traduis « bonjour » en anglais.', 'Traduce "hola, ¿qué tal?" al inglés.', 'Traduci "ciao, come stai" in inglese.'])
      expect(kinds(text), text).toEqual(['translation']);
  });

  it('question words, number words and library words in every language', () => {
    for (const text of [
      'Quand est né Napoléon ? Où ?',
      '¿Quién escribió el Quijote y cuándo?',
      'Quando è nato Dante? Dove?',
      'Quem descobriu o Brasil e quando?',
      'Wanneer en welke koning?',
    ])
      expect(ident(text), text).toBe(1);
    for (const text of [
      'Trois amis partagent la moitié de douze pommes.',
      'Tres amigos comparten la mitad de doce manzanas.',
      'Tre amici dividono la metà di dodici mele.',
      'Três amigos dividem a metade de doze maçãs.',
      'Drie vrienden delen de helft van twaalf appels.',
    ])
      expect(fu(text, 'math:number_words'), text).toBe(1);
    // Beside programming evidence (a language named, code words); alone, the word may be a building.
    for (const text of [
      'Quelle bibliothèque Python utiliser ?',
      '¿Qué librería de JavaScript uso?',
      'Quale libreria Java uso?',
      'Qual biblioteca Rust usar?',
      'Welke bibliotheek gebruik ik in mijn Python code?',
    ]) {
      expect(fu(text, 'ask:api'), text).toBe(1);
      const alone = text.replace(/ (de )?(Python|JavaScript|Java|Rust)| in mijn Python code/g, '');
      expect(fu(alone, 'ask:api'), alone).toBe(0);
    }
  });

  it('no new cue fires on the English words they resemble', () => {
    // come, plus, programme, resolver, soma, avant-garde, UN Programme: English, no cue.
    const english = 'Come and see: the programme plus a DNS resolver, the soma of a neuron, avant-garde art, the UN Programme of Action.';
    expect(kinds(english)).toEqual([]);
    expect(ident(english)).toBe(0);
  });
});

describe('task kinds on everyday application prompts (cue fixes), English and German alike', () => {
  const kinds = (text: string): string[] => KINDS.filter((k) => fu(text, `kind:${k}`) > 0);

  it('writing a function, query, regex, script or class is code, not prose writing', () => {
    for (const text of [
      'Write a Python function that merges two sorted lists.',
      'Write a SQL query that returns the top 5 customers by revenue.',
      'Write a regex that matches email addresses.',
      'Write unit tests for this class.',
      'Schreibe eine Funktion, die zwei sortierte Listen zusammenführt.',
      'Schreibe eine SQL-Abfrage, die alle Bestellungen des letzten Monats liefert.',
      'Schreib mir ein Skript, das alle Logdateien löscht.',
      'Schreibe eine Klasse, die ein Bankkonto darstellt.',
    ])
      expect(kinds(text), text).toEqual(['code']);
    // Prose stays writing: the write verb counts when nothing in the text is code.
    expect(fu('Write an email to my boss asking for a day off.', 'kind:writing')).toBe(1);
    expect(fu('Schreibe eine E-Mail an einen Kunden.', 'kind:writing')).toBe(1);
    expect(fu('Write something nice.', 'kind:writing')).toBe(0.5);
    expect(fu('Schreibe etwas.', 'kind:writing')).toBe(0.5);
    // Code evidence only in an earlier turn leaves this turn's write verb alone.
    const req: RouteRequest = {
      messages: [
        { role: 'user', content: 'Here is my Python function.' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'Now write a poem.' },
      ],
    };
    expect(f(req, 'kind:writing')).toBe(1);
  });

  it('an email address is a field to extract or match, not an email to write', () => {
    expect(kinds('Extract all email addresses from this text.')).toEqual(['extraction']);
    expect(kinds('Extrahiere alle E-Mail-Adressen aus diesem Text.')).toEqual(['extraction']);
    expect(fu('Write an email to the new address.', 'kind:writing')).toBe(1);
  });

  it('proofs, theorems, primes and equations are math', () => {
    expect(fu('Prove that there are infinitely many primes.', 'kind:math')).toBe(1);
    expect(fu('Beweise, dass es unendlich viele Primzahlen gibt.', 'kind:math')).toBe(1);
    expect(fu('Beweisen Sie, dass die Wurzel aus 2 irrational ist.', 'kind:math')).toBe(1);
    expect(fu('Show that n^2 - n is divisible by 2.', 'kind:math')).toBe(0.5);
    expect(fu('Zeige, dass n^2 - n durch 2 teilbar ist.', 'kind:math')).toBe(0.5);
    expect(fu('Is 91 a prime number?', 'kind:math')).toBe(0.5);
    expect(fu('What is the square root of 2?', 'kind:math')).toBe(0.5);
    expect(fu('Solving the inequality x^2 < 4, and its logarithm.', 'kind:math')).toBe(1);
    expect(fu('Löst die Ungleichung und den Logarithmus.', 'kind:math')).toBe(1);
    expect(fu('The prime minister spoke.', 'kind:math')).toBe(0); // "prime" alone is no math
  });

  it('a greeting inside a translation request is the text to translate, not small talk', () => {
    expect(kinds('Translate "good morning" to French.')).toEqual(['translation']);
    expect(kinds('Übersetze "Guten Morgen, wie geht es dir?" ins Englische.')).toEqual(['translation']);
    expect(fu('Good morning! How are you?', 'kind:smalltalk')).toBe(1);
    expect(fu('Guten Abend!', 'kind:smalltalk')).toBe(1); // a short turn of small talk is small talk whole
  });

  it('"morgen" (tomorrow), "Abend", morning and evening alone are no small talk; the greetings are', () => {
    expect(fu('Kannst du mir bis morgen einen Plan machen?', 'kind:smalltalk')).toBe(0);
    expect(fu('Was kann ich heute Abend kochen?', 'kind:smalltalk')).toBe(0);
    expect(fu('Plan my morning routine and my evening workout.', 'kind:smalltalk')).toBe(0);
    expect(fu('Guten Morgen!', 'kind:smalltalk')).toBe(1);
    expect(fu('Good evening.', 'kind:smalltalk')).toBe(1);
  });

  // One cue each, as "Thanks, that was helpful!" and "Thank you very much for your help!".
  it.each([
    'Thanks, that was helpful!',
    'Thank you very much for your help!',
    'Vielen Dank für Ihre Hilfe!',
    'Herzlichen Dank!',
    'Tausend Dank, das hat geholfen.',
    'Auf Wiedersehen!',
    'Tschüs!',
    'Merci beaucoup pour votre aide !',
    'Bonne journée !',
    'À bientôt !',
    '¡Muchas gracias por tu ayuda!',
    '¡Buen día!',
    'Grazie mille per il tuo aiuto!',
    'Buona giornata!',
    'Muito obrigado pela sua ajuda!',
    'Até logo!',
  ])('thanks and greetings are small talk in every language as in English: %s', (text) => {
    // One cue: half, or whole in a turn of six words at most.
    expect(fu(text, 'kind:smalltalk')).toBeGreaterThanOrEqual(0.5);
  });

  it('"dank" alone is the German preposition ("thanks to"), no thanks', () => {
    expect(fu('Dank deiner Hilfe läuft der Server wieder. Warum war er abgestürzt?', 'kind:smalltalk')).toBe(0);
  });

  it('a Chinese or Japanese greeting or thanks written alone is small talk; inside a longer run it is not looked up', () => {
    for (const text of ['谢谢！', '谢谢你。', '你好！你今天怎么样？', 'ありがとうございます！', 'こんにちは。', 'おはようございます！'])
      expect(fu(text, 'kind:smalltalk'), text).toBeGreaterThanOrEqual(0.5);
    expect(fu('你好！谢谢！', 'kind:smalltalk')).toBe(1);
    expect(fu('你好像不太高兴。', 'kind:smalltalk')).toBe(0); // "you seem unhappy": 你好 only as the start of a run
    expect(fu('感谢信怎么写？', 'kind:smalltalk')).toBe(0); // how to write a thank-you letter
    expect(fu('```\nprint("谢谢")\n```', 'kind:smalltalk')).toBe(0); // not inside a code fence
    expect(kinds('Translate "ありがとう" into English.')).toEqual(['translation']);
  });

  it('a thanks before a task is no small talk, as in English, and does not send the task to fast_cheap', () => {
    const tier = (text: string): string => tierForScore(scoreRequest(user(text)).score, DEFAULT_MODEL.thresholds);
    const pairs = [
      [
        'Thanks, and now write me a SQL query for all customers with open invoices.',
        'Vielen Dank, und jetzt schreibe mir eine SQL-Abfrage für alle Kunden mit offenen Rechnungen.',
      ],
      ['Thanks! Now write a Python function that sorts a list.', '谢谢！现在请用Python写一个排序函数。'],
      ['Thanks! Now write a Python function that sorts a list.', 'ありがとうございます！次にPythonでリストを並べ替える関数を書いてください。'],
    ] as const;
    for (const [en, other] of pairs) {
      expect(fu(other, 'kind:smalltalk'), other).toBe(fu(en, 'kind:smalltalk'));
      expect(fu(en, 'kind:smalltalk'), en).toBe(0);
      expect(fu(other, 'kind:code'), other).toBeGreaterThan(0);
      expect(tier(other), other).not.toBe('fast_cheap');
      expect(tier(en), en).not.toBe('fast_cheap');
    }
  });

  it('explaining a difference is its own kind, not reasoning; puzzles and analysis are reasoning', () => {
    expect(kinds('Explain the difference between TCP and UDP.')).toEqual(['explain']);
    expect(kinds('Erkläre den Unterschied zwischen TCP und UDP.')).toEqual(['explain']);
    expect(kinds('What are the pros and cons of remote work?')).toEqual(['explain']);
    expect(kinds('Solve this logic puzzle.')).toContain('reasoning');
    expect(kinds('Löse dieses Logikrätsel, und begründe deine Antwort.')).toContain('reasoning');
  });

  it('the weights order them as issue 11 found: a code request above an email, an explanation above small talk', () => {
    const s = (text: string): number => scoreRequest(user(text)).score;
    expect(s('Write a Python function that merges two sorted lists.')).toBeGreaterThan(s('Write an email that merges two meetings.'));
    expect(s('Schreibe eine Funktion, die zwei Listen zusammenführt.')).toBeGreaterThan(s('Schreibe eine E-Mail, die zwei Termine zusammenführt.'));
    expect(s('Translate "good morning" to French.')).toBeGreaterThan(s('Good morning to you, my friend.'));
    expect(s('Explain the difference between TCP and UDP.')).toBeGreaterThan(s('Hi! How are you today?'));
  });
});

describe('subject domains, English and German alike', () => {
  const cases: Array<[Feature, string, string]> = [
    [
      'domain:medicine',
      'The patient has a fever and chronic pain; which medication and dosage would a doctor prescribe?',
      'Die Patientin hat Fieber und chronische Schmerzen; welches Medikament und welche Dosierung verschreibt die Ärztin?',
    ],
    [
      'domain:philosophy',
      'How does Kant answer the empiricism of Hume, and what is left of metaphysics?',
      'Wie antwortet Kant auf den Empirismus von Hume, und was bleibt von der Metaphysik?',
    ],
    [
      'domain:history',
      'Why did the empire collapse in the fifth century after the war with its colonies?',
      'Warum zerfiel das Kaiserreich im fünften Jahrhundert nach dem Krieg mit seinen Kolonien?',
    ],
    [
      'domain:politics',
      'How does the parliament elect the government, and what can the president veto?',
      'Wie wählt das Parlament die Regierung, und wogegen kann der Präsident ein Veto einlegen?',
    ],
    [
      'domain:religion',
      'What do Christianity and Islam say about prayer and the prophets?',
      'Was sagen Christentum und Islam über das Gebet und die Propheten?',
    ],
    [
      'domain:business',
      'Draft a marketing campaign that wins back customers from the brand of our competitor.',
      'Entwirf eine Werbekampagne, die Kunden von der Marke unseres Wettbewerbers zurückgewinnt.',
    ],
    [
      'domain:social',
      'How does anxiety change behaviour, and what does psychology say about motivation?',
      'Wie verändert eine Angststörung das Verhalten, und was sagt die Psychologie über Motivation?',
    ],
  ];
  for (const [domain, en, de] of cases) {
    it(`${domain}: "${en}" / "${de}"`, () => {
      expect(fu(en, domain)).toBe(1); // two or more domain words saturate the feature
      expect(fu(de, domain)).toBe(1);
      expect(fu('The cat sat on the mat.', domain)).toBe(0);
      expect(fu('Die Katze saß auf der Matte.', domain)).toBe(0);
    });
  }

  it('every domain is a feature, and one word counts half', () => {
    for (const d of DOMAINS) expect(FEATURES).toContain(`domain:${d}`);
    expect(fu('Ask the doctor.', 'domain:medicine')).toBe(0.5);
    expect(fu('Frag die Ärztin.', 'domain:medicine')).toBe(0.5);
  });

  it('stems match inflections and German compounds; the kinds of words stay as they were', () => {
    expect(domainOfWord('krankenhausaufenthalt')).toBe('medicine');
    expect(domainOfWord('diagnosed')).toBe('medicine');
    expect(domainOfWord('politische')).toBe('politics');
    expect(domainOfWord('jahrhunderts')).toBe('history');
    expect(domainOfWord('werbekampagne')).toBe('business');
    expect(domainOfWord('onlinewerbung')).toBeUndefined(); // a compound is matched by its first part only
    expect(domainOfWord('werbung')).toBe('business');
    expect(domainOfWord('psychologin')).toBe('social');
    expect(domainOfWord('design')).toBeUndefined();
    // Kind and domain fields are independent: the words keep the kinds they had.
    expect(kindOfWord('statistik')).toBe('math');
    expect(kindOfWord('explained')).toBe('explain');
  });

  it('a mixed-language prompt gets the domains of both languages', () => {
    const mixed = 'Meine Ärztin says the patient needs a different Medikament; explain the Regierung policy on refunds.';
    expect(fu(mixed, 'domain:medicine')).toBe(1);
    expect(fu(mixed, 'domain:politics')).toBe(0.5);
    expect(fu(mixed, 'kind:explain')).toBeGreaterThan(0);
  });

  it('the last user turn weighs most: a domain only in earlier turns counts half, one only in the system prompt not at all', () => {
    const history = 'Du beantwortest Fragen zur Geschichte des Mittelalters und der Monarchie.';
    const body: RouteRequest = {
      messages: [
        { role: 'user', content: history },
        { role: 'assistant', content: 'Gern.' },
        { role: 'user', content: 'Und was geschah danach?' },
      ],
    };
    expect(f(body, 'domain:history')).toBe(0.5);
    expect(
      f(
        {
          messages: [
            { role: 'system', content: history },
            { role: 'user', content: 'Und was geschah danach?' },
          ],
        },
        'domain:history',
      ),
    ).toBe(0);
    expect(fu('Und was geschah danach?', 'domain:history')).toBe(0);
  });

  it('words inside a code fence are code, not domain cues', () => {
    expect(fu('```\nconst patient = doctor.treatment(hospital);\n```', 'domain:medicine')).toBe(0);
    expect(fu('```\nkunde = kunden[0]; marketing = true\n```', 'domain:business')).toBe(0);
  });

  it('a domain weighs in the score and is named in the explanation', () => {
    const r = scoreRequest(user('Was sagen Christentum und Islam über das Gebet und die Propheten?'));
    const c = r.contributions.find((x) => x.feature === 'domain:religion');
    expect(c).toBeDefined();
    expect(c!.value).toBe(DEFAULT_MODEL.weights['domain:religion']);
    expect(explain(r, r.contributions.length)).toContain('domain:religion');
  });
});

describe('the scanner', () => {
  const scan = (text: string): TextCounts => {
    const c = emptyCounts();
    scanText(text, c);
    return c;
  };
  const kindHits = (text: string, kind: (typeof KINDS)[number]): number => scan(text).kindHits[KINDS.indexOf(kind)]!;

  it('two-word cues: consecutive words, across a space or a line break, not across punctuation', () => {
    expect(kindHits('How many apples?', 'math')).toBe(1);
    expect(kindHits('Wie viele Äpfel?', 'math')).toBe(1);
    expect(kindHits('how\nmany apples', 'math')).toBe(1);
    expect(kindHits('how, many apples', 'math')).toBe(0);
    expect(kindHits('how manyfold', 'math')).toBe(0); // the second word must match whole
    expect(kindHits('many how', 'math')).toBe(0);
    expect(kindHits('Stell dir vor, es regnet.', 'roleplay')).toBe(1);
  });

  it('a text counts the same whatever was scanned before it (nothing is read past its end)', () => {
    // Texts that end where one more character would change a count: a fence, LaTeX, an identifier,
    // a sentence end, a decimal quantity, a short word.
    const texts = [
      'See `',
      'See ``',
      'a \\',
      'x_',
      'snake.',
      'Done.',
      'It costs 3.5',
      'It costs 3.5 ',
      'why',
      '1,2',
      'übersetz',
      '你好',
      'สวัสดี ครับ',
      'x😀',
      'api를',
      'order #',
      'Nr. 4',
      'call +49 30',
      'x `1',
      '2023-',
    ];
    for (const t of texts) {
      scanText('`'.repeat(300), emptyCounts());
      const afterBackticks = scan(t);
      scanText('a'.repeat(300), emptyCounts());
      const afterLetters = scan(t);
      scanText(' '.repeat(300), emptyCounts());
      expect(afterBackticks, t).toEqual(scan(t));
      expect(afterLetters, t).toEqual(scan(t));
    }
    expect(scan('Done.').sentences).toBe(1);
    expect(scan('See `').fences).toBe(0);
  });

  it('long texts (beyond the reused buffer) count like short ones', () => {
    const para = 'Berechne die Summe, then explain why. ';
    const one = scan(para);
    const many = scan(para.repeat(5000)); // 190,000 characters
    expect(many.words).toBe(one.words * 5000);
    expect(many.kindHits).toEqual(one.kindHits.map((k) => k * 5000));
    expect(many.sentences).toBe(one.sentences * 5000);
  });

  it('scripts without spaces: a run of Han, kana or Thai counts as the words its characters make on average', () => {
    // Han: 6 tenths of a word a character, kana 3, Thai 2; each run rounded up.
    expect(scan('我们的网店').words).toBe(3); // 5 Han: 3.0
    expect(scan('你好！你今天怎么样？').words).toBe(2 + 4); // 2 Han: 1.2 -> 2; 6 Han: 3.6 -> 4
    expect(scan('ありがとう').words).toBe(2); // 5 kana: 1.5 -> 2
    expect(scan('สวัสดีครับ').words).toBe(2); // 10 Thai code units: 2.0
    // Digits and Latin words end a run: the numbers count, and an embedded English word is a cue.
    const zh = scan('珍妮特的鸭子每天下16个蛋，剩下的以每个2美元出售。写一个Python函数。');
    expect(zh.numbers).toBe(2);
    expect(zh.maxNumber).toBe(16);
    expect(zh.kindHits[KINDS.indexOf('code')]).toBe(1);
    expect(zh.sentences).toBe(2); // 。 ends a sentence by itself
    expect(scan('Python으로 API를 호출하는 코드').kindHits[KINDS.indexOf('code')]).toBe(2); // Hangul particles after Latin words
    expect(scan('```\n打印你好世界\n```').words).toBe(0); // not inside a code fence
    // Thai ends a sentence with a space; Devanagari with the danda, Arabic asks with ؟.
    expect(scan('สวัสดีครับ วันนี้คุณเป็นอย่างไรบ้าง').sentences).toBe(1);
    expect(scan('मेरा नाम राम है। आप कैसे हैं?').sentences).toBe(2);
    expect(scan('كيف حالك؟').questions).toBe(1);
    expect(scan('كيف حالك؟').words).toBe(2);
    // A Spanish question asks once (¿ … ?); an emoji is no word.
    expect(scan('¿Cómo estás?').questions).toBe(1);
    expect(scan('Hi 😀 there').words).toBe(2);
    expect(scan('Hi 😀 there').nonLatinLetters).toBe(0);
  });

  it('a Chinese, Japanese or Thai prompt gets about the word count of its English translation', () => {
    const wordsFeature = (text: string): number =>
      (['struct:words[0-30]', 'struct:words[30-50]', 'struct:words[50-80]', 'struct:words[80+]'] as const).reduce((a, s) => a + fu(text, s), 0);
    const pairs: Array<[string, string[]]> = [
      [
        'Write a Python function that merges two sorted lists and returns a new sorted list. Explain the time complexity.',
        [
          '写一个Python函数，将两个已排序的列表合并，并返回一个新的有序列表。请解释时间复杂度。',
          '2つのソート済みリストをマージして新しいソート済みリストを返すPython関数を書いてください。時間計算量も説明してください。',
          'เขียนฟังก์ชัน Python ที่รวมลิสต์ที่เรียงลำดับแล้วสองลิสต์และคืนค่าลิสต์ใหม่ที่เรียงลำดับแล้ว อธิบายความซับซ้อนของเวลาด้วย',
        ],
      ],
      [
        "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?",
        [
          '珍妮特的鸭子每天下16个蛋。她每天早上早餐吃三个，每天用四个给朋友烤松饼。剩下的蛋她每天在农贸市场以每个2美元的价格出售。她每天在农贸市场能赚多少美元？',
          'ジャネットのアヒルは1日に16個の卵を産みます。彼女は毎朝朝食に3個食べ、毎日4個を使って友達のためにマフィンを焼きます。残りは毎日ファーマーズマーケットで新鮮なアヒルの卵1個につき2ドルで売ります。彼女はファーマーズマーケットで毎日何ドル稼ぎますか？',
          'เป็ดของเจเน็ตออกไข่วันละ 16 ฟอง เธอกินไข่สามฟองเป็นอาหารเช้าทุกเช้า และใช้สี่ฟองอบมัฟฟินให้เพื่อนทุกวัน เธอขายไข่ที่เหลือที่ตลาดเกษตรกรทุกวันในราคาฟองละ 2 ดอลลาร์ เธอได้เงินวันละกี่ดอลลาร์จากตลาดเกษตรกร',
        ],
      ],
    ];
    for (const [en, others] of pairs) {
      for (const text of others) {
        // log2(1 + words) / 10 within 0.04: word counts within about a third of each other.
        expect(Math.abs(wordsFeature(text) - wordsFeature(en)), text).toBeLessThan(0.04);
        // 。！？ end sentences as . ! ? do; Thai writes a space (and none after the last).
        if (/[。？]/u.test(text)) expect(fu(text, 'struct:sentences'), text).toBeCloseTo(fu(en, 'struct:sentences'), 12);
        else expect(fu(text, 'struct:sentences'), text).toBeGreaterThan(0);
      }
    }
  });
});

describe('markers and structure', () => {
  it('code: a fence, code punctuation, identifiers', () => {
    const code = 'Fix this:\n```ts\nconst total_sum = items.reduce((s, i) => { return s + i.price; }, 0);\n```';
    expect(fu(code, 'code:fence')).toBe(1);
    expect(fu(code, 'code:syntax')).toBeGreaterThan(0);
    expect(fu(code, 'code:identifiers')).toBeGreaterThan(0);
    expect(fu('A plain sentence.', 'code:fence')).toBe(0);
  });

  it('math: numbers, operators and LaTeX, language-neutral', () => {
    expect(fu('Wenn 3 Äpfel 1,20 € kosten, was kosten 7?', 'math:numbers')).toBeGreaterThan(0);
    expect(fu('x^2 + 3x = 10', 'math:symbols')).toBeGreaterThan(0);
    expect(fu('Zeige \\sum_{i=1}^n i = \\frac{n(n+1)}{2}', 'math:latex')).toBeGreaterThan(0);
    expect(fu('no digits here', 'math:numbers')).toBe(0);
  });

  it('math: decimal quantities and the size of the largest number, German and English separators alike', () => {
    expect(fu('Wenn 3 Äpfel 1,20 € kosten, was kosten 7?', 'math:decimals')).toBeCloseTo(1 / 3, 12);
    expect(fu('A ticket costs $12.50 and a snack 3.75 dollars.', 'math:decimals')).toBeCloseTo(2 / 3, 12);
    expect(fu('Take 3 apples and 7 pears.', 'math:decimals')).toBe(0);
    // Only quantities in prose: not a derivation's numbers, not code.
    expect(fu('1.5 * 2 = 3.0\n0,25 + 0,75 = 1,0', 'math:decimals')).toBe(0);
    expect(fu('```\nprice = 12.50 dollars\n```', 'math:decimals')).toBe(0);
    // A number alone weighs half (features.ts); beside another, in full.
    expect(fu('Sie verdient 48000 im Jahr', 'math:magnitude')).toBeCloseTo(Math.log2(48001) / 40, 12);
    expect(fu('Sie verdient 48000 im Jahr und 2 Boni', 'math:magnitude')).toBeCloseTo(Math.log2(48001) / 20, 12);
    // Thousands separators group the integer (it was cut at the first one: "48.000,50" had the size of 48).
    expect(fu('Sie verdient 48.000,50 im Jahr', 'math:magnitude')).toBeCloseTo(Math.log2(48001) / 40, 12);
    expect(fu('3 apples', 'math:magnitude')).toBeLessThan(fu('300 apples', 'math:magnitude'));
    expect(fu('no digits here', 'math:magnitude')).toBe(0);
  });

  it('math:magnitude counts quantities, not identifiers, English and German alike', () => {
    const mag = (text: string): number => fu(text, 'math:magnitude');
    const scan = (text: string): TextCounts => {
      const c = emptyCounts();
      scanText(text, c);
      return c;
    };
    // Support prompts: ids, order and customer numbers, phone numbers, code.
    for (const text of [
      'Reset my password please, user 1234567.',
      "My account ID is 99887766 and I can't log in.",
      'Can I get a refund for order #48213? The item arrived damaged.',
      'Can I get a refund for order 48213?',
      'Please call me back at +49 30 1234567.',
      'Call +1 (555) 123-4567 or +4915112345678.',
      '```\nx = 1234567\n```\nWhat does this do?',
      'Set `retries = 500` in the config.',
      'Ticket № 5512 is still open.',
      'Invoice 2023-0815 is wrong.',
      // German: compounds on -nummer, Nr., Kunden-ID, Bestellung, Rechnung.
      'Meine Kundennummer ist 4711023, ich komme nicht in mein Konto.',
      'Meine Kundennummer: 47110',
      'Wo ist meine Bestellung Nr. 48213?',
      'Wo ist meine Bestellung 48213?',
      'Kunden-ID: 4711, bitte um Rückruf.',
      'Die Rechnung 2023-0815 ist falsch.',
      'Bitte rufen Sie mich unter +49 30 1234567 an.',
      'Meine Telefonnummer ist 030 1234567.',
    ]) {
      expect(mag(text), text).toBe(0);
      expect(scan(text).numbers, text).toBe(0);
    }
    // Quantities still count: beside an id, after a word that is no id marker, signed, round.
    expect(mag('Order #48213: I was charged 250 instead of 25.')).toBeCloseTo(Math.log2(251) / 20, 12);
    expect(mag('Bestellung Nr. 48213: statt 3 kamen nur 2 Pakete.')).toBeCloseTo(Math.log2(4) / 20, 12);
    expect(mag('Er verdient 48000 Euro im Jahr.')).toBeCloseTo(Math.log2(48001) / 40, 12); // alone: half
    expect(mag('Henry and 3 of his friends order 7 pizzas.')).toBeCloseTo(Math.log2(8) / 20, 12); // "order" the verb, a short number
    expect(mag('Every group of order 42 has a normal subgroup.')).toBeCloseTo(Math.log2(43) / 40, 12); // alone: half
    expect(mag('The +3 oxidation state and 3+49.')).toBeCloseTo(Math.log2(50) / 20, 12); // a sign and a sum, no phone
    expect(mag('From +50 millivolts to -70 millivolts.')).toBeCloseTo(Math.log2(71) / 20, 12);
    expect(mag('The city has 1000000 inhabitants.')).toBeCloseTo(Math.log2(1000001) / 40, 12); // a round long number
    expect(mag('No 3 people, but No. 4711.')).toBeCloseTo(Math.log2(4) / 40, 12); // "no" is an id marker only with its dot
    expect(mag('Wie viel sind 123456 mal 3?')).toBeCloseTo(Math.log2(123457) / 20, 12); // six digits: a quantity
    // Years stay quantities: a year rule cost train CV (MMLU's dated questions; docs/routing.md, tenth round).
    expect(mag('Who won the world cup in 2018?')).toBeCloseTo(Math.log2(2019) / 40, 12);
  });

  it('math:number_words: quantities written as words, English and German alike, not in code', () => {
    expect(fu('Three friends share half of twelve apples.', 'math:number_words')).toBe(1);
    expect(fu('Drei Freunde teilen die Hälfte von zwölf Äpfeln.', 'math:number_words')).toBe(1);
    expect(fu('She has twice as many, und er hat drei.', 'math:number_words')).toBeCloseTo(2 / 3, 12); // mixed
    expect(fu('Ein Freund teilt einen Apfel.', 'math:number_words')).toBe(0); // the German article is no number
    expect(fu('She has 3 apples.', 'math:number_words')).toBe(0);
    expect(fu('```\nconst two = 2, three = 3, four = 4;\n```', 'math:number_words')).toBe(0);
  });

  it('structure: words and sentences of the last turn, Unicode sentence ends, none inside code fences', () => {
    expect(fu('Er kauft Brot. Dann geht er heim! Warum fragt er?', 'struct:sentences')).toBeCloseTo(Math.log2(4) / 5, 12);
    expect(fu('他买了面包。然后回家了。', 'struct:sentences')).toBeCloseTo(Math.log2(3) / 5, 12);
    expect(fu('```\na. b. c.\n```', 'struct:sentences')).toBe(0);
    expect(fu('Straße über Привет', 'struct:words[0-30]')).toBeCloseTo(Math.log2(4) / 10, 12);
  });

  it('a sentence counts with three words or more: a "Thanks!", "Hi!" or a list item adds none (nineteenth round)', () => {
    const one = fu('Write a haiku about autumn leaves.', 'struct:sentences');
    expect(one).toBeCloseTo(Math.log2(2) / 5, 12);
    for (const text of [
      'Hi! Write a haiku about autumn leaves.',
      'Write a haiku about autumn leaves. Thanks!',
      'Write a haiku about autumn leaves. Thank you.',
      'Hello there! Write a haiku about autumn leaves. Merci beaucoup!',
      '你好！Write a haiku about autumn leaves.',
    ])
      expect(fu(text, 'struct:sentences'), text).toBe(one);
    expect(fu('Write a haiku about autumn leaves. Thank you so much!', 'struct:sentences')).toBeCloseTo(Math.log2(3) / 5, 12);
    expect(fu('Pick the right one.\nA. Yes.\nB. No.\nC. Maybe.', 'struct:sentences')).toBe(one);
    // The ends are still found (what the sentence-end rules above test); only the short ones do not count.
    const c = emptyCounts();
    scanText('Hi! Write a haiku about autumn leaves. Thanks!', c);
    expect([c.sentences, c.fullSentences]).toEqual([3, 1]);
  });

  it('a request beside a pleasantry is no small talk: a sentence of three words or more without a small-talk cue (a re-test round)', () => {
    for (const text of ['Hi! List the planets of the solar system.', 'Hi! what is the capital of France', 'Thanks! Now write it in French please.'])
      expect(fu(text, 'kind:smalltalk'), text).toBe(0);
    // Small talk stays small talk, a greeting with a question about the chat itself included.
    for (const text of [
      'Hi!',
      'ok thanks!',
      'Thank you very much for your help!',
      'Good morning! How are you?',
      "hi, how's the weather?",
      '你好！你今天怎么样？',
    ])
      expect(fu(text, 'kind:smalltalk'), text).toBeGreaterThan(0);
    // "Hi! can you give an example?" after a code question goes on with it (it was small talk: high_quality → fast_cheap).
    const convo: RouteRequest = {
      messages: [
        { role: 'user', content: 'Explain how closures capture variables in JavaScript loops.' },
        { role: 'assistant', content: 'A closure keeps a reference to the variable, not its value.' },
        { role: 'user', content: 'Hi! can you give an example?' },
      ],
    };
    expect(explain(scoreRequest(convo))).toMatch(/^as an earlier turn it goes on with:/);
  });

  it('struct:words is a monotone shape: four segments that add up to log2(1 + words) / 10, cut at 30, 50 and 80 words', () => {
    const segs = ['struct:words[0-30]', 'struct:words[30-50]', 'struct:words[50-80]', 'struct:words[80+]'] as const;
    for (const n of [0, 3, 30, 31, 45, 50, 64, 80, 200, 2000]) {
      const text = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'Haus' : 'house')).join(' '); // mixed German and English words
      const v = segs.map((s) => fu(text, s));
      expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(Math.min(1, Math.log2(1 + n) / 10), 12);
      // A segment fills only after the one before it is full.
      expect(v[1]! > 0 ? v[0] : Math.log2(31) / 10).toBeCloseTo(Math.log2(31) / 10, 12);
      if (n <= 30) expect(v.slice(1)).toEqual([0, 0, 0]);
      if (n > 80) expect(v[3]).toBeGreaterThan(0);
      else expect(v[3]).toBe(0);
    }
  });

  it('ask:api: words naming a programming interface or library, English and German alike, not in code', () => {
    expect(fu('Which API of the requests library sends a multipart upload?', 'ask:api')).toBe(1);
    expect(fu('Welche Schnittstelle der Python-Bibliothek lädt Dateien hoch?', 'ask:api')).toBe(1);
    expect(fu('Use the Paket from npm, not the SDK.', 'ask:api')).toBe(1); // mixed
    expect(fu('Which npm package should I use for parsing CSV in Node?', 'ask:api')).toBe(1);
    expect(fu('Which package does `requests.get` come from?', 'ask:api')).toBe(1); // an identifier is evidence too
    expect(fu('Write a poem about the sea.', 'ask:api')).toBe(0);
    expect(fu('Schreib ein Gedicht über das Meer.', 'ask:api')).toBe(0);
    expect(fu('```js\nconst api = require("library");\n```', 'ask:api')).toBe(0);
  });

  it('ask:api: a package, library, module or framework without programming evidence is a parcel, a building, a course or a policy', () => {
    for (const text of [
      'Where is my package? It was supposed to arrive yesterday.',
      'Mein Paket ist noch nicht angekommen, was soll ich tun?',
      'The library is closed on Sundays, when can I return my books?',
      'Die Bibliothek hat sonntags geschlossen.',
      'Which module of the course covers statistics?',
      'Our company needs a compliance framework for GDPR. Where do we start?',
    ])
      expect(fu(text, 'ask:api'), text).toBe(0);
    // The same words in a conversation about code count (the context is evidence too).
    const req = {
      messages: [
        { role: 'user', content: 'My Python script fails to import.' },
        { role: 'assistant', content: 'Which error?' },
        { role: 'user', content: 'Which package is missing?' },
      ],
    };
    expect(extractFeatures(req)[FEATURES.indexOf('ask:api')]).toBe(1);
  });

  it('ask:identify_domain: a who/when/which question on a subject domain, the product of the two', () => {
    expect(fu('Who was the first emperor of the Holy Roman Empire, and in which century?', 'ask:identify_domain')).toBeGreaterThan(0);
    expect(fu('Wer war der erste Kaiser des Heiligen Römischen Reiches, und in welchem Jahrhundert?', 'ask:identify_domain')).toBeGreaterThan(0);
    const en = 'Who was the first emperor of the Holy Roman Empire, and in which century?';
    expect(fu(en, 'ask:identify_domain')).toBeCloseTo(fu(en, 'ask:identify') * fu(en, 'domain:history'), 12);
    expect(fu('Who wrote this function, and when?', 'ask:identify_domain')).toBe(0); // no domain
    expect(fu('Explain the history of the Roman Empire.', 'ask:identify_domain')).toBe(0); // no identify question
    expect(fu('Erkläre die Geschichte des Römischen Reiches.', 'ask:identify_domain')).toBe(0);
  });

  it('words inside a code fence are code, not cues', () => {
    expect(fu('```\nprint("hello thanks")\n```', 'kind:smalltalk')).toBe(0);
    expect(fu('hello thanks', 'kind:smalltalk')).toBeGreaterThan(0);
  });

  it("ask:identify weighs by the question's length: none at 8 words or fewer (a lookup both tiers answer), all from 20 words (an exam question)", () => {
    // Trained on exam questions with their options (MMLU: 20 words and more), the cue sent every short
    // lookup just over high_quality: "What is the capital of France?" scored 0.602 >= 0.599.
    expect(fu('What is the capital of France?', 'ask:identify')).toBe(0);
    expect(fu('Who wrote Hamlet, and when?', 'ask:identify')).toBe(0);
    const q16 = 'Which of the two treaties signed in that decade changed the borders of the most countries?';
    expect(fu(q16, 'ask:identify')).toBeCloseTo(ident(q16) * ((16 - 8) / 12), 12); // 16 words
    const q20 = 'Which of the following statements about the causes of the French Revolution is most accurate? A. taxes B. bread C. war D. all';
    expect(fu(q20, 'ask:identify')).toBe(ident(q20));
    for (const q of ['What is the capital of France?', 'Who wrote Hamlet?', 'What does HTTP stand for?', 'Which planet is the largest?'])
      expect(tierForScore(scoreRequest(user(q)).score, DEFAULT_MODEL.thresholds), q).toBe('fast_cheap');
  });

  it('ask:identify: questions for a specific person, time, place or choice, English and German alike', () => {
    expect(ident('Who wrote it, and when?')).toBe(1);
    expect(ident('Wer hat es geschrieben, und wann?')).toBe(1);
    expect(ident('Which of these two offers is cheaper?')).toBe(0.5);
    expect(ident('Welches der beiden Angebote ist günstiger?')).toBe(0.5);
    expect(ident('Where did she say it — und wo ist das?')).toBe(1); // mixed
    expect(ident('Explain how a compiler works.')).toBe(0);
    expect(ident('Erkläre, wie ein Compiler funktioniert.')).toBe(0);
    expect(ident('```sql\nselect name from users where id = 1\n```')).toBe(0); // code, not a question
    // Only the last user turn: the question being asked now.
    expect(
      f(
        {
          messages: [
            { role: 'user', content: 'Who was it?' },
            { role: 'assistant', content: 'Ada.' },
            { role: 'user', content: 'Thanks.' },
          ],
        },
        'ask:identify',
      ),
    ).toBe(0);
  });

  it('ask:identify counts a question word only in a question (its sentence ends with "?"), in every language', () => {
    // "when"/"where"/"which" as a conjunction in a statement asks nothing.
    for (const text of [
      'My app crashes when I click the button.',
      'Explain the difference between TCP and UDP and when to use which protocol.',
      'Mein Programm stürzt ab, wenn ich klicke, wo der Knopf ist.',
      "L'application plante quand je clique.",
    ])
      expect(ident(text), text).toBe(0);
    expect(ident('My app crashes when I click the button.')).toBe(ident('My app crashes if I click the button.'));
    // Genuine questions, and "what" the same as quel / cuál / welche.
    for (const text of [
      'When did the Berlin wall fall?',
      'Where is the Eiffel tower?',
      'Quand est tombé le mur de Berlin ?',
      'What is the capital of Australia?',
      "Quelle est la capitale de l'Australie ?",
      '¿Cuál es la capital de Australia?',
      'Was ist die Hauptstadt? Welche Stadt ist es?',
      'The wall fell. When did it fall?',
    ])
      expect(ident(text), text).toBe(0.5);
    // A question in the middle counts; a statement after it adds nothing.
    expect(ident('Where is it? It broke when I moved it.')).toBe(0.5);
  });

  it('language: German function words, non-Latin scripts', () => {
    expect(fu('Kannst du mir bitte sagen, warum das nicht geht und wie ich es ändern kann?', 'lang:de')).toBe(1);
    expect(fu('Can you tell me why this does not work?', 'lang:de')).toBe(0);
    expect(fu('请把这段话翻译成英文，并解释其中的语法结构和用词选择。谢谢你的帮助，我非常感激。请尽快回复', 'lang:non_latin')).toBeGreaterThan(0.5);
    expect(fu('Объясни, пожалуйста, почему небо голубое', 'lang:non_latin')).toBeGreaterThan(0.5);
  });

  it('tools, JSON output, max_tokens, system prompt and conversation depth come from the body', () => {
    const body: RouteRequest = {
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'answer' },
        { role: 'user', content: 'second question' },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
      response_format: { type: 'json_object' },
      max_tokens: 16384,
    };
    for (const name of ['struct:tools', 'struct:json', 'struct:max_tokens', 'struct:system', 'struct:turns', 'struct:context'] as const)
      expect(f(body, name), name).toBeGreaterThan(0);
    for (const name of ['struct:tools', 'struct:json', 'struct:max_tokens', 'struct:system', 'struct:turns', 'struct:context'] as const)
      expect(fu('second question', name), name).toBe(0);
  });

  it('the last user turn weighs most: a kind only in an earlier turn counts half', () => {
    const early: RouteRequest = {
      messages: [
        { role: 'user', content: 'Translate this.' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'and now?' },
      ],
    };
    expect(f(early, 'kind:translation')).toBeCloseTo(0.5 * fu('Translate this.', 'kind:translation'));
  });

  it('reads the text parts of array content', () => {
    expect(
      f(
        {
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'Translate this.' },
                { type: 'image_url', image_url: { url: 'x' } },
              ],
            },
          ],
        },
        'kind:translation',
      ),
    ).toBeGreaterThan(0);
  });
});

describe('thousands separators (a helper found "$5,000" scored as a 5 and a decimal)', () => {
  it('a number grouped by thousands has the size of the whole integer, in every spelling; one dot and three digits stays a decimal', () => {
    const mag = (text: string): number => fu(text, 'math:magnitude');
    const plain = mag('If I invest $5000 at 4% for 7 years, how much will I have?');
    expect(mag('If I invest $5,000 at 4% for 7 years, how much will I have?')).toBeCloseTo(plain, 12);
    expect(mag('A city has 1,200,000 people and grows 3% a year.')).toBeCloseTo(mag('A city has 1200000 people and grows 3% a year.'), 12);
    expect(mag('Die Stadt hat 1.200.000 Einwohner und wächst um 3 % im Jahr.')).toBeCloseTo(
      mag('Die Stadt hat 1200000 Einwohner und wächst um 3 % im Jahr.'),
      12,
    );
    expect(mag('It costs $1,234.56 and 2 fees.')).toBeCloseTo(mag('It costs $1234 and 2 fees.'), 12);
    // Not thousands: a decimal comma, a group of another length, one dot (English decimal), a version, a date.
    expect(mag('Es kostet 1,20 € und 2 Gebühren.')).toBeCloseTo(mag('Es kostet 1 € und 2 Gebühren.'), 12);
    expect(mag('Pay 12,34 and 2 more.')).toBeCloseTo(mag('Pay 12 and 2 more.'), 12);
    expect(mag('It weighs 1.200 kg and 2 more.')).toBeCloseTo(mag('It weighs 1 kg and 2 more.'), 12);
    expect(mag('Update to 2.0.1 and restart 3 nodes.')).toBe(mag('Update to and restart 3 nodes.'));
    expect(mag('Am 24.12.2025 kommen 3 Gäste.')).toBe(mag('Am kommen 3 Gäste.'));
  });

  it('one dot and three digits beside a currency sign is German thousands, no decimal ("10.000 € Startkapital" was a decimal quantity)', () => {
    const mag = (text: string): number => fu(text, 'math:magnitude');
    const dec = (text: string): number => fu(text, 'math:decimals');
    for (const [grouped, whole] of [
      ['Die GmbH braucht 10.000 € Startkapital und 2 Gesellschafter.', 'Die GmbH braucht 10000 € Startkapital und 2 Gesellschafter.'],
      ['Ich habe € 1.500 gespart und 3 Konten.', 'Ich habe € 1500 gespart und 3 Konten.'],
      ['Das Auto kostet 12.500€ und 2 Extras.', 'Das Auto kostet 12500€ und 2 Extras.'],
    ] as const) {
      expect(mag(grouped), grouped).toBeCloseTo(mag(whole), 12);
      expect(dec(grouped), grouped).toBe(0);
    }
    // Without a currency sign it stays an (English) decimal.
    expect(dec('It weighs 1.200 kg and 2 more.')).toBeGreaterThan(0);
  });
});

describe('a conversation goes on with its task (a helper found a proof\'s "why?" sent to the cheapest tier)', () => {
  const convo = (first: string, then: string): RouteRequest => ({
    messages: [
      { role: 'user', content: first },
      { role: 'assistant', content: 'Here is the start of it.' },
      { role: 'user', content: then },
    ],
  });
  it('scores at least as an earlier user turn read with the rest as context, and the reason says so; a last turn that scores higher is read as itself', () => {
    for (const [first, then] of [
      ['Prove that the halting problem is undecidable.', 'why?'],
      ['Solve the recurrence and derive the closed form of the Fibonacci numbers.', 'can you finish it?'],
      ['Write a Python function that merges two sorted lists.', 'ok, continue'],
    ] as const) {
      const alone = scoreRequest(user(first)).score;
      const r = scoreRequest(convo(first, then));
      expect(r.score, then).toBeGreaterThanOrEqual(alone);
      expect(explain(r)).toMatch(/^as an earlier turn it goes on with: /);
      // Read as itself, the short turn was lower.
      expect(scoreRequest(user(then)).score).toBeLessThan(alone);
    }
    // Thanks, a laugh or a goodbye after a hard turn is small talk, read as itself (it stayed on the strong tier three turns long).
    for (const closer of ['thanks!', 'lol', 'good night', 'ok cool']) {
      const r = scoreRequest(convo('Prove that the halting problem is undecidable.', closer));
      expect(explain(r), closer).not.toMatch(/goes on with/);
      expect(r.score, closer).toBe(scoreFeatures(extractFeatures(convo('Prove that the halting problem is undecidable.', closer))).score);
    }
    // Small talk after small talk stays small talk.
    const chat = scoreRequest(convo('hi', 'good morning!'));
    expect(explain(chat)).toMatch(/kind:smalltalk/);
    expect(explain(chat)).not.toMatch(/goes on with/);
    // Only a turn that set a task is gone on with: a chit-chat question is not (and the cue lists miss some tasks:
    // "Derive the closed form … using generating functions." has no cue, so its "can you finish it?" is read as itself).
    expect(explain(scoreRequest(convo('what is the capital of France?', 'I went there once')))).not.toMatch(/goes on with/);
    expect(explain(scoreRequest(convo('Derive the closed form of the Fibonacci numbers using generating functions.', 'can you finish it?')))).not.toMatch(
      /goes on with/,
    );
    // A new request that scores higher than what came before is read as itself.
    const own = convo('hi', 'Now write a Python function `merge_sorted(a, b)` that merges two sorted lists in O(n).');
    expect(explain(scoreRequest(own))).not.toMatch(/goes on with/);
    // Only the last few user turns are read again: a hard first turn five user turns back no longer counts.
    const long: RouteRequest = {
      messages: [
        { role: 'user', content: 'Derive the closed form of the Fibonacci numbers using generating functions.' },
        ...['ok', 'thanks', 'nice', 'cool'].flatMap((w) => [
          { role: 'assistant', content: 'Sure.' },
          { role: 'user', content: w },
        ]),
      ],
    };
    expect(explain(scoreRequest(long))).not.toMatch(/goes on with: .*kind:math/);
    expect(scoreRequest(long).score).toBeLessThan(scoreRequest(user('Derive the closed form of the Fibonacci numbers using generating functions.')).score);
  });

  it('a system prompt\'s "You are a …" is no role-play (nearly every production prompt begins so); a user\'s is', () => {
    const sys = (content: string): RouteRequest => ({
      messages: [
        { role: 'system', content: 'You are a helpful assistant for a bank.' },
        { role: 'user', content },
      ],
    });
    expect(f(sys('What are your opening hours?'), 'kind:roleplay')).toBe(0);
    expect(fu('You are a pirate. Tell me about your day.', 'kind:roleplay')).toBeGreaterThan(0);
    expect(f(sys('You are a pirate now. Tell me about your day.'), 'kind:roleplay')).toBeGreaterThan(0);
  });
});

describe('score, explanation, thresholds', () => {
  it('is a probability, with the top contributions named in the explanation', () => {
    const r = scoreRequest(user('Berechne 17 * 23 + 4 und erkläre den Rechenweg.'));
    expect(r.score).toBeGreaterThan(0);
    expect(r.score).toBeLessThan(1);
    // Feature names as in FEATURES, the shape segments included (`struct:words[0-30]`).
    expect(explain(r)).toMatch(/^[a-z_]+:[a-z_]+(\[[0-9+-]+\])? [+-]\d+\.\d\d(, [a-z_]+:[a-z_]+(\[[0-9+-]+\])? [+-]\d+\.\d\d){0,2}$/);
    const sum = r.contributions.reduce((s, c) => s + c.value, DEFAULT_MODEL.bias);
    expect(r.score).toBeCloseTo(1 / (1 + Math.exp(-sum)), 12);
  });

  it('leaves out a contribution that rounds to 0.00 (it told a reader nothing)', () => {
    const r = scoreRequest(user('Find all solutions for 2 sin(x) = √(2), where x is between 0 and 2π'));
    expect(r.contributions.some((c) => c.value !== 0 && Math.abs(c.value) < 0.005)).toBe(true);
    expect(explain(r, r.contributions.length)).not.toMatch(/[+-]0\.00/);
    expect(explain(r, r.contributions.length).split(', ')).toHaveLength(r.contributions.filter((c) => Math.abs(c.value) >= 0.005).length);
    expect(explain({ score: 0.5, contributions: [{ feature: 'struct:context', value: 0.001 }] })).toBe('no features');
  });

  it('toward a decision: the terms that pushed that way, then the largest against it when it outweighs them (an app round)', () => {
    const r = {
      score: 0.66,
      contributions: [
        { feature: 'struct:sentences' as const, value: 0.14 },
        { feature: 'ask:questions' as const, value: -0.13 },
        { feature: 'ask:identify' as const, value: 0.12 },
        { feature: 'struct:context' as const, value: 0.07 },
        { feature: 'struct:system' as const, value: 0.04 },
      ],
    };
    expect(explain(r)).toBe('struct:sentences +0.14, ask:questions -0.13, ask:identify +0.12');
    expect(explain(r, 3, 'up')).toBe('struct:sentences +0.14, ask:identify +0.12, struct:context +0.07; against: ask:questions -0.13');
    expect(explain(r, 3, 'down')).toBe('ask:questions -0.13; against: struct:sentences +0.14');
    expect(explain({ ...r, contributions: r.contributions.slice(1, 3) }, 3, 'down')).toBe('ask:questions -0.13');
    expect(explain({ score: 0.5, contributions: [{ feature: 'kind:smalltalk', value: -0.13 }] }, 3, 'up')).toBe(
      'no features for it; against: kind:smalltalk -0.13',
    );
    expect(explain({ score: 0.5, contributions: [] }, 3, 'up')).toBe('no features');
    // The real reason: a question over a pasted document goes high_quality on its sentence and question words, not on "−0.13".
    const cfg = { simpleTasks: [], complexTasks: [], complexityKeywords: [], complexityThreshold: 3, tasks: {}, longPromptTokens: 8000 };
    const ask =
      'Answer using only the text below.\n\n' +
      'The service refills each bucket at its rate. '.repeat(12) +
      '\n\nQuestion: What is the maximum size of the key field in bytes?';
    const c = classify({ task: null, tier: null, text: ask, promptTokens: 10, turns: 1, request: user(ask) }, cfg);
    expect(c.reason).toMatch(/→ (high_quality|balanced): [a-z:_]+ \+0\.\d\d, [a-z:_]+ \+0\.\d\d, [a-z:_]+ \+0\.\d\d; against: ask:questions -0\.13$/);
  });

  it('two thresholds make three tiers', () => {
    const t = { balanced: 0.3, highQuality: 0.6 };
    expect(tierForScore(0.1, t)).toBe('fast_cheap');
    expect(tierForScore(0.3, t)).toBe('balanced');
    expect(tierForScore(0.6, t)).toBe('high_quality');
  });

  it('strongShare maps to the high_quality threshold through the reference quantiles', () => {
    const q = DEFAULT_MODEL.quantiles;
    // The ends hold for any prompt, also one that scores under every reference prompt ("hi") or over them.
    expect(thresholdForShare(1, q)).toBe(0);
    expect(thresholdForShare(0, q)).toBe(1);
    expect(thresholdForShare(0.999, q)).toBeCloseTo(q[0]!, 2);
    expect(thresholdForShare(0.001, q)).toBeCloseTo(q[q.length - 1]!, 2);
    const all = autoThresholds({ strongShare: 1 });
    expect(tierForScore(scoreRequest({ messages: [{ role: 'user', content: 'hi' }] }).score, all)).toBe('high_quality');
    expect(all.balanced).toBe(0);
    const none = autoThresholds({ strongShare: 0 });
    expect(tierForScore(0.99, none)).toBe('balanced');
    expect(thresholdForShare(0.5, q)).toBeCloseTo(q[(q.length - 1) / 2]!, 10);
    expect(thresholdForShare(0.2, q)).toBeGreaterThan(thresholdForShare(0.5, q));
    const t = autoThresholds({ strongShare: 0.2 });
    expect(t.highQuality).toBeCloseTo(thresholdForShare(0.2, q), 12);
    expect(t.balanced).toBeLessThanOrEqual(t.highQuality);
    expect(autoThresholds({})).toEqual(DEFAULT_MODEL.thresholds);
    expect(autoThresholds({ thresholds: { balanced: 0.1, highQuality: 0.9 } })).toEqual({ balanced: 0.1, highQuality: 0.9 });
  });
});

describe('"code" after a word that makes it no program', () => {
  it('zip, promo, dress and penal codes are no code cue; source and error codes are', () => {
    for (const t of [
      'Zip code 94107, is delivery free?',
      'Apply the promo code SAVE10 please.',
      'What is the dress code?',
      'Under the penal code, is this theft?',
    ])
      expect(fu(t, 'kind:code'), t).toBe(0);
    for (const t of ['Review the source code.', 'What does error code 0x80070005 mean in my code?']) expect(fu(t, 'kind:code'), t).toBeGreaterThan(0);
  });
});

describe('accents typed apart (NFD, as macOS input sends them)', () => {
  it('score as the same text composed (NFC)', () => {
    for (const t of [
      'Habitación 305, ¿está lista?',
      'Numéro de commande : 4711. Où est mon colis ?',
      'Mi número de pedido es 448213, ¿dónde está?',
      'Erkläre den Unterschied',
    ])
      expect(scoreRequest(user(t.normalize('NFD'))).score, t).toBe(scoreRequest(user(t)).score);
  });
});

describe('an API word alone is no programming evidence', () => {
  it('"What is an API?" gets no ask:api; beside code words it does', () => {
    expect(fu('What is an API?', 'ask:api')).toBe(0);
    expect(fu('Explain what an SDK is in one sentence.', 'ask:api')).toBe(0);
    expect(fu('How do I call the Stripe API from Python?', 'ask:api')).toBeGreaterThan(0);
    expect(fu('Which package should my function import?', 'ask:api')).toBeGreaterThan(0);
  });
});

describe('a short turn of small talk', () => {
  it('is small talk whole: greetings and thanks in several languages stay fast_cheap under the trained thresholds', () => {
    for (const t of ['Good morning!', 'Thank you so much!', 'Merci beaucoup !', '你好！', 'Guten Morgen, wie geht es dir?', 'thanks!']) {
      expect(fu(t, 'kind:smalltalk'), t).toBe(1);
      expect(tierForScore(scoreRequest(user(t)).score, DEFAULT_MODEL.thresholds), t).toBe('fast_cheap');
    }
    // A longer turn of small talk through and through is small talk whole (it kept the count of its cues, 0.5); a greeting before a task is none.
    expect(fu('Thank you very much for your help!', 'kind:smalltalk')).toBe(1);
    expect(fu('Thank you very much, the fix works but the test is still red!', 'kind:smalltalk')).toBeLessThan(1);
    expect(fu('Hi, can you prove that the square root of two is irrational?', 'kind:smalltalk')).toBe(0);
  });
});

describe('small talk in an app (a conversations round)', () => {
  const SYSTEM =
    'You are the support assistant of Nimbus Fiber, an internet provider. Answer questions about plans, billing and outages. ' +
    'Extract the customer number when given, then check the account step by step before you answer. Never promise refunds over 50 EUR; ' +
    'escalate those to a human agent. Prices: Basic 29.99 EUR, Plus 39.99 EUR, Max 59.99 EUR per month. '.repeat(6);
  const TOOLS = [{ type: 'function', function: { name: 'get_account', parameters: { type: 'object', properties: { id: { type: 'string' } } } } }];
  const chat = (turns: number, last: string): RouteRequest => ({
    messages: [
      ...Array.from({ length: turns }, (_, i) => [
        { role: 'user', content: `Question ${i}: prove that the sum of the first n odd numbers is n squared, step by step.` },
        { role: 'assistant', content: 'By induction: the base case holds, and adding the next odd number 2n + 1 gives (n + 1)^2.' },
      ]).flat(),
      { role: 'user', content: last },
    ],
  });
  const inApp = (last: string): RouteRequest => ({
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: last },
    ],
    tools: TOOLS,
    response_format: { type: 'json_object' },
    max_tokens: 32_000,
  });

  it('a turn of small talk weighs none of what surrounds it: depth, context, system prompt, tools, JSON mode, a large max_tokens (eleven turns put "haha thanks, bye!" on high_quality)', () => {
    for (const t of [
      'haha thanks, bye!',
      'great, thanks a lot!',
      'hi',
      'Good morning!',
      'sounds good, thanks',
      "you're the best, thanks!",
      "thanks, that's all",
    ]) {
      const alone = scoreRequest(user(t)).score;
      expect(scoreRequest(chat(11, t)).score, t).toBe(alone);
      expect(scoreRequest(inApp(t)).score, t).toBe(alone);
      expect(tierForScore(scoreRequest(chat(11, t)).score, DEFAULT_MODEL.thresholds), t).toBe('fast_cheap');
      expect(tierForScore(scoreRequest(inApp(t)).score, DEFAULT_MODEL.thresholds), t).toBe('fast_cheap');
    }
    // A request in the same place weighs all of it, as before.
    const ask = 'Is there a data cap on the Plus plan?';
    expect(scoreRequest(inApp(ask)).score).toBeGreaterThan(scoreRequest(user(ask)).score);
    for (const name of ['struct:system', 'struct:tools', 'struct:json', 'struct:max_tokens'] as const) {
      expect(f(inApp(ask), name), name).toBeGreaterThan(0);
      expect(f(inApp('hi'), name), name).toBe(0);
    }
    // The system prompt is no conversation: its length is not `struct:context` (an app round), earlier turns are.
    expect(f(inApp(ask), 'struct:context')).toBe(0);
    expect(f(chat(2, ask), 'struct:context')).toBeGreaterThan(0);
    expect(f(chat(11, 'haha thanks, bye!'), 'struct:turns')).toBe(0);
    expect(f(chat(11, 'why does the induction step work?'), 'struct:turns')).toBeGreaterThan(0);
  });

  it('a turn of small talk with any other word keeps what surrounds it: it asks something, however short (a re-test round found these a tier down)', () => {
    // Acknowledgments alone may consent to what the assistant offered ("Shall I refund it?" — "okay, sure"): no pleasantry through and through.
    for (const t of [
      'thanks, but it fails',
      'lol it crashed',
      'hi, my card was charged twice',
      'hallo, fix bitte den Fehler',
      '谢谢，再写一个测试',
      'ok cool',
      'okay, sure',
      'ok, and how?',
    ]) {
      expect(fu(t, 'kind:smalltalk'), t).toBeGreaterThan(0); // still small talk by its cue …
      expect(f(chat(11, t), 'struct:turns'), t).toBeGreaterThan(0); // … but its context counts
      expect(f(inApp(t), 'struct:tools'), t).toBe(1);
      expect(scoreRequest(inApp(t)).score, t).toBeGreaterThan(scoreRequest(user(t)).score);
    }
    // Small talk through and through, in any cue language, drops it.
    for (const t of [
      'Thank you so much for your help!',
      'merci beaucoup pour votre aide',
      'muchas gracias por tu ayuda',
      'Danke dir, schönen Abend!',
      '你好！',
    ])
      expect(f(inApp(t), 'struct:tools'), t).toBe(0);
  });

  it('an acknowledgment opening a request ("ok now add type hints") is no small talk: the turn goes on with the task before it', () => {
    const code: RouteRequest = {
      messages: [
        { role: 'user', content: 'Write a Python function that merges two sorted lists.' },
        { role: 'assistant', content: 'def merge(a, b): ...' },
        { role: 'user', content: 'ok now add type hints' },
      ],
    };
    expect(f(code, 'kind:smalltalk')).toBe(0);
    expect(explain(scoreRequest(code))).toMatch(/^as an earlier turn it goes on with: /);
    for (const t of ['ok make it shorter', 'Okay, now add a docstring.', 'cool, now rename it to merge_sorted.', 'ok cool, now add tests'])
      expect(fu(t, 'kind:smalltalk'), t).toBe(0);
    // Acknowledgments alone, or beside another small-talk cue, stay small talk.
    for (const t of ['ok cool', 'ok, thanks a lot!', 'nice, thank you!', 'okay bye', 'cool cool cool']) expect(fu(t, 'kind:smalltalk'), t).toBeGreaterThan(0);
    // Only an opening acknowledgment: "thanks" opening a sentence is the small talk itself.
    expect(fu('Thank you very much for your help!', 'kind:smalltalk')).toBe(1);
  });
});

describe('cue gaps an everyday-prompts round found', () => {
  it("a word of an API in a URL path or Python's <module> is no ask:api; the same word in prose beside code still is", () => {
    const react = "My React component crashes: const name = user.name; fetch('/api/u/' + id).then(r => r.json())";
    expect(fu(react, 'ask:api')).toBe(0);
    const tb = 'Traceback (most recent call last):\n  File "app.py", line 12, in <module>\n    main()\nTypeError: unsupported operand';
    expect(fu(tb, 'ask:api')).toBe(0);
    expect(fu('How do I use the requests library to post JSON?', 'ask:api')).toBe(1);
    expect(fu('Which module of the stdlib parses JSON in my_script.py?', 'ask:api')).toBe(1);
  });

  it('optional chaining and ` ?? ` in pasted code ask nothing; "Really?? Are you sure?" still asks', () => {
    expect(fu('const name = user?.name ?? fallback; call(fn?.(x), arr?.[0])', 'ask:questions')).toBe(0);
    expect(fu('const name = user.name;', 'ask:questions')).toBe(0);
    expect(fu('Really?? Are you sure?', 'ask:questions')).toBeGreaterThan(0);
    expect(fu('Why does it fail?', 'ask:questions')).toBeGreaterThan(0);
  });

  it('a pleasantry through and through is small talk whole, and no task sentence, with or without its "!"', () => {
    for (const t of [
      'Thank you so much for your help!',
      'Thank you so much for your help',
      'thanks!',
      'Thanks a lot, that was really helpful!',
      'Thanks so much for your help, I really appreciate it!',
    ]) {
      expect(fu(t, 'kind:smalltalk'), t).toBe(1);
      expect(fu(t, 'struct:sentences'), t).toBe(0);
      expect(tierForScore(scoreRequest(user(t)).score, DEFAULT_MODEL.thresholds), t).toBe('fast_cheap');
    }
    // Another word in it asks something: a sentence again.
    expect(fu('Thank you so much for your help, but it still fails!', 'struct:sentences')).toBeGreaterThan(0);
  });
});

describe('cue gaps a conversations round found', () => {
  it('code-review words are code: race condition, goroutines, mutex, deadlock, pytest, docstring, multithreading', () => {
    for (const t of [
      'Is this safe to call from multiple goroutines?',
      'find the race condition',
      'Where can this deadlock?',
      'Should this field be guarded by a mutex?',
      'write pytest tests for this',
      'Add a docstring.',
      'Is multithreading worth it here?',
    ])
      expect(fu(t, 'kind:code'), t).toBeGreaterThan(0);
    // "race" alone is no code.
    expect(fu('Who won the race yesterday?', 'kind:code')).toBe(0);
  });

  it('Spanish "por qué" (why) is no question word of identification; "qué" alone still is', () => {
    expect(ident('¿Por qué el cielo es azul?')).toBe(0);
    expect(ident('¿y por qué?')).toBe(0);
    expect(ident('¿Qué es un perro?')).toBeGreaterThan(0);
    expect(ident('Lo hice por ti. ¿Qué opinas?')).toBeGreaterThan(0);
  });
});

describe('small talk is what the request is, not a word in it', () => {
  const s = (req: RouteRequest): number => scoreRequest(req).score;
  // [with the word, the same prompt without it]
  const technical: Array<[string, string]> = [
    [
      'ok so why does my Rust borrow checker reject this closure that captures a mutable reference to the vector I iterate over?',
      'so why does my Rust borrow checker reject this closure that captures a mutable reference to the vector I iterate over?',
    ],
    [
      'Write a Python script that fetches the weather API and caches results in Redis.',
      'Write a Python script that fetches the API and caches results in Redis.',
    ],
    ['cool, now implement the same thing as a Go function with a context timeout.', 'now implement the same thing as a Go function with a context timeout.'],
    ['nice, now solve the equation x^2 - 5x + 6 = 0 and explain each step.', 'now solve the equation x^2 - 5x + 6 = 0 and explain each step.'],
    ['lol ok, what does this print?\n```js\nconsole.log([] + {});\n```', 'what does this print?\n```js\nconsole.log([] + {});\n```'],
    ['Okay, schreib mir eine Python-Funktion, die das Wetter von einer API holt.', 'Schreib mir eine Python-Funktion, die das von einer API holt.'],
    ['Merci ! Maintenant écris une fonction Python qui lit la météo depuis une API.', 'Maintenant écris une fonction Python qui lit la depuis une API.'],
  ];
  it.each(technical)('a technical prompt with "ok", "weather", "cool", "nice", "lol" has no small talk and scores no lower: %s', (withWord, without) => {
    expect(fu(withWord, 'kind:smalltalk')).toBe(0);
    expect(s(user(withWord))).toBeGreaterThanOrEqual(s(user(without)));
  });

  it('a long turn is no small talk, whatever cue it has, even when its task words are in no cue list', () => {
    const long =
      'ok, so the tokio runtime deadlocks whenever two tasks hold the same mutex across an await point on the single threaded executor, and the watchdog never fires; the backtrace shows both parked forever in the scheduler.';
    expect(fu(long, 'kind:smalltalk')).toBe(0);
    expect(s(user(long))).toBeGreaterThanOrEqual(s(user(long.slice('ok, so '.length))));
  });

  it.each([
    'ok thanks!',
    "hi, how's the weather?",
    'Cool, nice weather today lol',
    'Danke, schönes Wetter heute!',
    'Salut, la météo est top !',
    'ok, gracias!',
  ])('small talk still is: %s', (t) => {
    expect(fu(t, 'kind:smalltalk')).toBe(1);
    expect(tierForScore(s(user(t)), DEFAULT_MODEL.thresholds)).toBe('fast_cheap');
  });

  it('a chat of a few sentences keeps its cues, and "thanks" after a code exchange is small talk', () => {
    expect(fu('Hi! I just got back from a long trip to Italy, and the weather was lovely the whole time lol', 'kind:smalltalk')).toBe(1);
    const after = {
      messages: [
        { role: 'user', content: 'Fix this Python function: ```py\ndef f(x): return x +\n```' },
        { role: 'assistant', content: 'Here is the fix.' },
        { role: 'user', content: 'ok thanks!' },
      ],
    };
    expect(f(after, 'kind:smalltalk')).toBe(1);
  });
});

describe('earlier turns', () => {
  it('small talk counts in the last turn only: a "hi" before a hard question does not make it easy', () => {
    const hard = 'Implement a lock-free MPSC queue in C++ and prove it is linearizable.';
    const after = {
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: hard },
      ],
    };
    expect(f(after, 'kind:smalltalk')).toBe(0);
    expect(scoreRequest(after).score).toBeGreaterThanOrEqual(scoreRequest(user(hard)).score);
    // Other kinds of earlier turns still count half.
    const code = {
      messages: [
        { role: 'user', content: 'Fix the Python function.' },
        { role: 'assistant', content: 'Done.' },
        { role: 'user', content: 'And now?' },
      ],
    };
    expect(f(code, 'kind:code')).toBeGreaterThan(0);
  });
});

describe('monotone where it must be (property)', () => {
  const word = fc.constantFrom(
    'hello',
    'story',
    'why',
    'translate',
    'poem',
    'Hallo',
    'danke',
    'erkläre',
    'bitte',
    'the',
    'und',
    'Geschichte',
    'summarize',
    '?',
    'price',
    'total',
  );
  const prose = fc.array(word, { maxLength: 40 }).map((ws) => ws.join(' '));
  const ident = fc.constantFrom('x', 'total', 'items', 'fooBar', 'snake_case', 'print("hi?")', 'return', 'if', 'a ? b : c', '// thanks');
  const codeBlock = fc
    .array(fc.tuple(ident, fc.constantFrom(' = ', '(', ') {', '; }', '.', ' + ', '\n'), ident), { minLength: 1, maxLength: 20 })
    .map((parts) => '\n```\n' + parts.map((p) => p.join('')).join('\n') + '\n```\n');
  const term = fc.oneof(fc.integer({ min: 0, max: 999 }).map(String), fc.constantFrom('x', 'y', 'n', '1.5', '0,25', '\\frac{a}{b}', '\\sum_i', '(x+1)', 'x^2'));
  const derivation = fc
    .array(fc.tuple(term, fc.constantFrom(' = ', ' + ', ' - ', ' * ', ' / ', ' ≤ ', ' ⇒ '), term), { minLength: 1, maxLength: 12 })
    .map((eqs) => '\n' + eqs.map((e) => e.join('')).join('\n') + '\n');
  const context = fc.constantFrom<Array<{ role: string; content: string }>>(
    [],
    [{ role: 'system', content: 'Du bist hilfreich.' }],
    [
      { role: 'user', content: 'earlier' },
      { role: 'assistant', content: 'ok' },
    ],
  );

  it('asking for reasoning ("Think step by step.", "Beweise es Schritt für Schritt.") never lowers the score (kind:reasoning is fitted >= 0)', () => {
    expect(DEFAULT_MODEL.weights['kind:reasoning']).toBeGreaterThanOrEqual(0);
    expect(DEFAULT_MODEL.weights['kind:translation']).toBeLessThanOrEqual(0);
    for (const base of ['Prove that there are infinitely many primes of the form 4k+3.', 'Is 221 prime?', 'Beweise, dass die Wurzel aus 2 irrational ist.'])
      for (const ask of [' Think step by step.', ' Explain step by step.', ' Beweise es Schritt für Schritt.'])
        expect(scoreRequest(user(base + ask)).score, base + ask).toBeGreaterThanOrEqual(scoreRequest(user(base)).score);
  });

  it('adding a code block or a math derivation to the last user turn never lowers the score', () => {
    fc.assert(
      fc.property(prose, fc.oneof(codeBlock, derivation), fc.boolean(), context, (text, extra, before, ctx) => {
        const base = scoreRequest({ messages: [...ctx, { role: 'user', content: text }] }).score;
        const grown = scoreRequest({ messages: [...ctx, { role: 'user', content: before ? extra + text : text + extra }] }).score;
        expect(grown).toBeGreaterThanOrEqual(base);
      }),
      { numRuns: 400, seed: 11 },
    );
  });
});

describe('the reason of a scored request', () => {
  const cfg = { simpleTasks: [], complexTasks: [], complexityKeywords: [], complexityThreshold: 3, tasks: {}, longPromptTokens: 8000 };
  const reasonAt = (text: string, balanced: number) =>
    classify({ task: null, tier: null, text, promptTokens: 10, turns: 1 }, cfg, { thresholds: { balanced, highQuality: 1 } }).reason;
  const text = 'Analysiere die Vor- und Nachteile von Microservices.';
  const s = scoreRequest({ messages: [{ role: 'user', content: text }] }).score;
  // Thresholds just above and just below the score that round to the same two decimals as it.
  const r2 = Math.round(s * 100) / 100;
  const [justAbove, justBelow] = [(s + r2 + 0.005) / 2, (s + r2 - 0.005) / 2];

  it('prints score and threshold apart when two decimals would round them to the same number', () => {
    const below = /^score (\S+) < (\S+) → fast_cheap: /.exec(reasonAt(text, justAbove))!;
    expect(below[1]).not.toBe(below[2]);
    expect(Number(below[1])).toBeLessThan(Number(below[2]));
    const above = /^score (\S+) >= (\S+), < (\S+) → balanced: /.exec(reasonAt(text, justBelow))!;
    expect(above[1]).not.toBe(above[2]);
    expect(Number(above[1])).toBeGreaterThan(Number(above[2]));
  });

  it('a balanced score names both of its bounds, each printed apart from it ("0.58 >= 0.54" alone read as if it had passed 0.59)', () => {
    const r = classify({ task: null, tier: null, text, promptTokens: 10, turns: 1 }, cfg, {
      thresholds: { balanced: s - 0.04, highQuality: s + 0.0003 },
    }).reason;
    const m = /^score (\S+) >= (\S+), < (\S+) → balanced: /.exec(r)!;
    expect(m).not.toBeNull();
    expect(Number(m[1])).toBeGreaterThan(Number(m[2]));
    expect(Number(m[1])).toBeLessThan(Number(m[3]));
  });

  it('keeps two decimals when they tell the numbers apart', () => {
    expect(reasonAt(text, s + 0.05)).toMatch(/^score \d\.\d\d < \d\.\d\d → fast_cheap: /);
  });
});

describe('sentence ends (twelfth round)', () => {
  const sentences = (text: string): number => {
    const c = emptyCounts();
    scanText(text, c);
    return c.sentences;
  };

  it('an abbreviation’s dot ends no sentence, in every language the cues cover', () => {
    expect(sentences('Wo ist meine Bestellung Nr. 48213?')).toBe(1);
    expect(sentences('Dr. Smith is here.')).toBe(1);
    expect(sentences('Mr. and Mrs. Jones met Prof. Lee on St. Mark’s Square, vs. last year.')).toBe(1);
    expect(sentences('Das kostet ca. 5 Euro bzw. 6 Dollar, vgl. Anhang.')).toBe(1);
    expect(sentences('Mme. Dupont arrive demain.')).toBe(1);
    expect(sentences('La Sra. García y el Dr. Pérez llegaron.')).toBe(1);
    expect(sentences('Il sig. Rossi e il dott. Verdi sono qui.')).toBe(1);
    expect(sentences('Dhr. Jansen komt morgen, bijv. om negen uur.')).toBe(1);
    // The street sentence has the same sentence feature with and without its "Nr.".
    expect(fu('Wo ist meine Bestellung Nr. 48213?', 'struct:sentences')).toBe(fu('Wo ist meine Bestellung 48213?', 'struct:sentences'));
  });

  it('a lone mark ends nothing: a sentence needs a word or a number', () => {
    expect(sentences('.')).toBe(0);
    expect(sentences('!')).toBe(0);
    expect(sentences('Hi . . .')).toBe(1);
    expect(sentences('Done. !')).toBe(1);
    expect(fu('.', 'struct:sentences')).toBe(0);
  });

  it('"etc." and "Inc." end a sentence before a capital or at the end only; "No." before a digit is a number sign', () => {
    expect(sentences('Apples, pears, etc. and more.')).toBe(1);
    expect(sentences('Apples, pears, etc. Then we go.')).toBe(2);
    expect(sentences('I work at Acme Inc.')).toBe(1);
    expect(sentences('See No. 5 here.')).toBe(1);
    expect(sentences('No. I disagree.')).toBe(2);
    // In capitals a title word is an acronym: "MR." (marginal revenue) ends its sentence.
    expect(sentences('Compare AVC to MR. Then stop.')).toBe(2);
  });

  it('decimal points and version strings end no sentence; a number at the end does', () => {
    expect(sentences('Pi is 3.14 and Node 20.11.1 is out.')).toBe(1);
    expect(sentences('She has 5 apples. He has 3.')).toBe(2);
  });
});

describe('identifiers, dates and versions are no quantities (twelfth round)', () => {
  const counts = (text: string): TextCounts => {
    const c = emptyCounts();
    scanText(text, c);
    return c;
  };

  it('what a support message quotes is no quantity: an id word, then up to two link words ("order number is"), zip, room, PO; one capital and a dash', () => {
    for (const t of [
      'My order number is 448213.',
      'Meine Kundennummer ist 448213.',
      'Zip code 94107, is delivery free?',
      "I'm in room 4021, need towels.",
      'Cancel PO 45821 please.',
      'Where is my order A-448213?',
      'Numéro de commande : 4711',
    ]) {
      expect(counts(t).maxNumber, t).toBe(0);
      expect(fu(t, 'math:magnitude'), t).toBe(0);
    }
    // Quantities stay: a link word that does not follow an id word, a short number; a verb or a
    // preposition straight after an id word ("my order is 250 units", "une commande de 500 pièces").
    expect(counts('The answer is 448213.').maxNumber).toBe(448213);
    expect(counts('My order is 3 pizzas.').maxNumber).toBe(3);
    expect(counts('The order of 1000 items').maxNumber).toBe(1000);
    expect(counts('My order is 250 units of steel at $12.').maxNumber).toBe(250);
    expect(counts('Une commande de 500 pièces.').maxNumber).toBe(500);
    expect(counts('La commande est de 4711 pièces à 2,50 €.').maxNumber).toBe(4711);
    expect(counts('Een bestelling van 500 stuks.').maxNumber).toBe(500);
    expect(counts('La stanza è di 40 metri quadrati.').maxNumber).toBe(40);
  });

  it('a number alone in a message weighs half of what it weighs beside other numbers (a year, an amount, an id no rule caught)', () => {
    const alone = fu('Explain the 2008 financial crisis.', 'math:magnitude');
    expect(alone).toBeGreaterThan(0);
    expect(fu('Explain the 2008 and 2009 financial crises.', 'math:magnitude')).toBeCloseTo(2 * alone * (Math.log2(2010) / Math.log2(2009)), 6);
  });

  it('capitals, a dash and digits are an identifier: "INV-2024-00017", "SN-2024-000123"', () => {
    expect(counts('Invoice INV-2024-00017 is wrong.').maxNumber).toBe(0);
    expect(counts('SN-2024-000123').maxNumber).toBe(0);
    expect(fu('Invoice INV-2024-00017 is wrong.', 'math:magnitude')).toBe(0);
    // Lower case before the dash is a word: "mid-1990s", "uranium-238" stay quantities.
    expect(counts('In the mid-1990s uranium-238 was cheap.').maxNumber).toBe(1990);
  });

  it('an ISO date is no quantity; a year alone stays one', () => {
    expect(counts('My birthday is 1990-05-17.').maxNumber).toBe(0);
    expect(fu('Deliver on 2025-12-24.', 'math:magnitude')).toBe(0);
    expect(counts('Who won the world cup in 2018?').maxNumber).toBe(2018);
  });

  it('a version or a dotted date is neither a quantity nor a decimal', () => {
    for (const t of ['Upgrade to v2.0.1 please.', 'Version 2.0.1 is out.', 'Am 24.12.2025 feiern wir.']) {
      const c = counts(t);
      expect(c.decimals, t).toBe(0);
      expect(c.maxNumber, t).toBe(0);
      expect(fu(t, 'math:decimals'), t).toBe(0);
    }
    // Quantities keep their decimals: "3.5 hours", "$12.50 each", "1,234.56 USD".
    expect(counts('It takes 3.5 hours and costs $12.50 each.').decimals).toBe(2);
    expect(counts('It costs 1,234.56 USD.').decimals).toBe(1);
  });

  it('a number grouped by thousands separators alone is a whole number, no decimal quantity ("1,500 words" weighed as a decimal sent a novel to the cheapest tier)', () => {
    for (const [t, n] of [
      ['Es kostet 1.000.000 Euro.', 1_000_000],
      ['Write about 1,500 words.', 1500],
      ['I invest $5,000 at 4% a year.', 5000],
      ['Rent is 1,800 EUR a month.', 1800],
    ] as const) {
      const c = counts(t);
      expect([t, c.decimals, c.maxNumber]).toEqual([t, 0, n]);
    }
  });
});

describe('dotted acronyms, initials and German ordinals (thirteenth round)', () => {
  const counts = (text: string): TextCounts => {
    const c = emptyCounts();
    scanText(text, c);
    return c;
  };
  const sentences = (text: string): number => counts(text).sentences;

  it('a dotted acronym ("e.g.", "i.e.", "U.S.", "z.B.", "d.h.") is a word of prose, not a code identifier', () => {
    expect(counts('Use a fruit, e.g. an apple, i.e. something sweet.').identifiers).toBe(0);
    expect(counts('In the U.S. the law says so.').identifiers).toBe(0);
    expect(counts('Er kommt, z.B. morgen, d.h. bald.').identifiers).toBe(0);
    expect(fu('Use a fruit, e.g. an apple, i.e. something sweet.', 'code:identifiers')).toBe(0);
    // It was programming evidence, so "package" counted as an API word: 0.677 high_quality before, 0.588 now.
    expect(fu('Which package should I buy, e.g. a gift box?', 'ask:api')).toBe(0);
    // Identifiers of code stay: dotted names and snake_case.
    expect(counts('Call os.path.join and my_func here.').identifiers).toBe(2);
    expect(counts('Read the config.yaml file.').identifiers).toBe(1);
  });

  it('an initial before another initial, or after one before a name, ends no sentence', () => {
    // 4 sentences before (0.585), 1 now (0.559).
    expect(sentences('J. R. R. Tolkien wrote it.')).toBe(1);
    expect(sentences('Robert MacArthur and E. O. Wilson pioneered it.')).toBe(1);
    // A single capital with a dot still ends one: an answer, a variable, a list marker.
    expect(sentences('Servers A and B. Then C.')).toBe(2);
    expect(sentences('The answer is B. The rest fail.')).toBe(2);
    expect(sentences('Pick one.\nA. Yes\nB. No')).toBe(3);
  });

  it('a German ordinal ends no sentence ("am 3. Oktober", "der 2. Weltkrieg", "im 19. Jahrhundert")', () => {
    // 2 sentences before (0.579 / 0.604 / 0.578), 1 now (0.567 / 0.593 / 0.566).
    expect(sentences('Am 3. Oktober ist Feiertag.')).toBe(1);
    expect(sentences('Der 2. Weltkrieg endete 1945.')).toBe(1);
    expect(sentences('Im 19. Jahrhundert wuchs die Stadt.')).toBe(1);
    expect(sentences('Wir feiern vom 3. bis 5. Mai.')).toBe(1);
    expect(fu('Am 3. Oktober ist Feiertag.', 'struct:sentences')).toBe(fu('Am Feiertag ist frei.', 'struct:sentences'));
    // A number at a sentence's end still ends it, English "am" included; the number stays a quantity.
    expect(sentences('I am 25. I like tea.')).toBe(2);
    expect(sentences('Er ist 3. Dann geht er.')).toBe(2);
    expect(counts('Der 2. Weltkrieg endete 1945.').maxNumber).toBe(1945);
  });
});

describe('application traffic (an app round): the app’s system prompt and pasted text are not the task', () => {
  const PERSONA =
    'You are Aria, the virtual assistant of Northwind Energy, a residential electricity and gas supplier. Keep the customer safe, ' +
    'resolve their request in as few turns as possible and give accurate details of their account. Explain bills, tariffs and meter ' +
    'readings step by step, then extract the account number after the customer gives it. Never give financial advice; after three ' +
    'failed attempts offer a human agent. Analyse the account data provided in the context block before you answer. '.repeat(4);
  const withSystem = (system: string, last: string, extra: Partial<RouteRequest> = {}): RouteRequest => ({
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: last },
    ],
    ...extra,
  });
  const tier = (req: RouteRequest): string => tierForScore(scoreRequest(req).score, DEFAULT_MODEL.thresholds);

  it('a long persona weighs what a one-line system prompt weighs: its task words and length are the app’s, not the turn’s', () => {
    for (const t of [
      'What is my balance?',
      'Can I speak to a real person please',
      'Change my direct debit date to the 15th please',
      'thanks, that sorted it. bye!',
    ]) {
      expect(scoreRequest(withSystem(PERSONA, t)).score, t).toBe(scoreRequest(withSystem('You are a helpful assistant.', t)).score);
      for (const name of ['kind:extraction', 'kind:multistep', 'kind:reasoning', 'struct:context'] as const)
        expect(f(withSystem(PERSONA, t), name), `${t}: ${name}`).toBe(0);
    }
    expect(tier(withSystem(PERSONA, 'What is my balance?'))).toBe('fast_cheap');
    // It is still there (struct:system), and the turn's own task still counts in full.
    expect(f(withSystem(PERSONA, 'hello there, what is my balance?'), 'struct:system')).toBe(1);
    const hard = 'Prove that the sum of the first n odd numbers is n squared, step by step, then explain where induction is needed.';
    expect(scoreRequest(withSystem(PERSONA, hard)).score).toBe(scoreRequest(withSystem('You are a helpful assistant.', hard)).score);
    expect(f(withSystem(PERSONA, hard), 'kind:multistep')).toBeGreaterThan(0);
  });

  it('a follow-up is read as its task was when it was asked: "and in Italian?" asks no more than the translation did', () => {
    const task = 'Translate into German: Thank you for your patience, we will get back to you within 24 hours.';
    const convo: RouteRequest = {
      messages: [
        { role: 'user', content: task },
        { role: 'assistant', content: 'Vielen Dank für Ihre Geduld, wir melden uns innerhalb von 24 Stunden bei Ihnen.' },
        { role: 'user', content: 'and in Italian?' },
      ],
    };
    const r = scoreRequest(convo);
    expect(r.followsUp).toBe(true);
    expect(r.score).toBe(scoreRequest(user(task)).score);
  });

  const DOC =
    '# Ratelimit API v2 — Reference\n\nThe Ratelimit service protects upstream APIs by enforcing per-key quotas. Each request to a protected ' +
    'route consumes tokens from a bucket. Buckets refill continuously at the configured rate, up to a capacity of 1000 tokens. The key ' +
    'field holds at most 128 bytes. A request with a read scope may call check, and only an admin scope may reset a bucket. Version 2.2.0 ' +
    'added burst to policies; before it, burst always equalled capacity. Responses carry the remaining tokens and the time to refill.';

  it('a question over a pasted document is read as the question, the document as its context', () => {
    const q = 'What is the maximum size of the key field?';
    const tagged = user(`Answer using only the document below.\n\n<document>\n${DOC}\n</document>\n\nQuestion: ${q}`);
    const labelled = user(`Use the text below to answer.\n\n${DOC}\n\nQuestion: ${q}`);
    for (const req of [tagged, labelled]) {
      // The document's "API", its seven sentences and its "1000" are not the question's.
      expect(f(req, 'ask:api')).toBe(0);
      expect(f(req, 'math:magnitude')).toBe(0);
      expect(f(req, 'struct:sentences')).toBeLessThan(fu(DOC, 'struct:sentences'));
      expect(f(req, 'struct:context')).toBeGreaterThan(0);
    }
    // Before, the same request scored as the document: 0.86, high_quality (ask:api +0.45, struct:sentences +0.42, math:magnitude +0.21).
    expect(scoreRequest(tagged).score).toBeLessThan(scoreRequest(user(`${DOC}\n${q}`)).score - 0.1);
  });

  it('a label, a summary or an extraction of a pasted review is read as the instruction, not as the review’s sentences', () => {
    const review =
      'The headphones sound great and the noise cancelling is genuinely impressive on the train. But the left earcup started crackling ' +
      'after three weeks, support took nine days to reply, and the replacement they sent had the same issue. For the price I expected ' +
      'better, though when they work they are the best I have owned. I would not buy them again.';
    const ask = 'Classify the sentiment of this review as positive, negative or mixed. Answer with one word.';
    const req = user(`${ask}\n\n${review}`);
    expect(f(req, 'struct:sentences')).toBe(fu(ask, 'struct:sentences'));
    expect(f(req, 'kind:multistep')).toBe(0.5 * fu(review, 'kind:multistep')); // "after": the review's, at half weight
    // The same words in one paragraph (no pasted text to tell apart) read as before.
    expect(scoreRequest(req).score).toBeLessThan(scoreRequest(user(`${ask}\n${review}`)).score);
  });

  it('pasted code, LaTeX or a table is the task’s substance and is read in full, as is a task that merely goes on in paragraphs', () => {
    const code =
      'function fizzBuzz(value) {\n  let result = [];\n  for (let i = 1; i <= value; i++) {\n    let output = "";\n    if (i % 3 === 0) output += "Fizz";\n' +
      '    if (i % 5 === 0) output += "Buzz";\n    result.push(output || i);\n  }\n  return result;\n}\n'.repeat(2);
    const ask = 'The text below implements fizz-buzz. Rewrite the loop to allow more number-word pairs without more if statements.';
    expect(splitMaterial(`${ask}\n\n${code}`)).not.toBeNull(); // the shape is there…
    expect(extractFeatures(user(`${ask}\n\n${code}`))).toEqual(extractFeatures(user(`${ask} \n${code}`))); // …but code is read in full (as the same text without the paragraph break)
    // An instruction that names no pasted text goes on with the task (train prompts the first version split).
    const spec = 'Prompts the user for a level. If the user does not input 1, 2, or 3, the program should prompt again. '.repeat(6);
    expect(splitMaterial(`In a file called professor.py, implement a program that:\n\n${spec}`)).toBeNull();
    expect(splitMaterial(`This task has two parts to it\n\n${spec}`)).toBeNull();
    expect(splitMaterial(`In an epidemiological context, what is the population at risk?\n\n${spec}`)).toBeNull();
    expect(splitMaterial(`Summarise the following text in two sentences.\n\n${spec}`)).toEqual({
      ask: 'Summarise the following text in two sentences.',
      material: spec,
    });
  });

  it('pasted text an ask only hands over is the task, read in full: a problem in tags under "Can you do this?" (a re-test round: fast_cheap)', () => {
    const homework =
      'A ladder 13 ft long leans against a wall. The bottom slides away from the wall at 2 ft/s. How fast is the top sliding down when the ' +
      'bottom is 5 ft from the wall? Then find the rate at which the angle between the ladder and the ground changes at that moment. ' +
      'After that, compute how fast the area of the triangle formed by the ladder, the wall and the ground changes. Finally, say when the ' +
      'area stops growing, and justify each step with the chain rule.';
    const sentences = (t: string): number => {
      const c = emptyCounts();
      scanText(t, c);
      return Math.min(1, Math.max(0, Math.log2(1 + c.fullSentences) / 5));
    };
    for (const text of [
      `<homework>\n${homework}\n</homework>\n\nCan you do this?`,
      `Is the claim in the passage below true? Prove it.\n\n${homework}`,
      `How should we fix the problem described in this document?\n\n<document>${homework}</document>`,
      // An ask of its own that works the text out is no lookup: the text is the task (a second re-test round: balanced).
      `<problem>\n${homework}\n</problem>\nWhat is the largest rate? Prove it.`,
    ]) {
      expect(f(user(text), 'struct:sentences'), text).toBe(sentences(text));
      expect(tier(user(text)), text).toBe('high_quality');
    }
    // An ask of its own over the same text (a lookup, a summary) reads it as context, as before.
    const lookup = `Answer from the text below.\n\n${homework}\n\nQuestion: How long is the ladder?`;
    expect(f(user(lookup), 'struct:sentences')).toBeLessThan(sentences(lookup));
    const summary = `Summarise the text below in one sentence.\n\n${homework}`;
    expect(f(user(summary), 'struct:sentences')).toBeLessThan(sentences(summary));
  });

  it('a Markdown document with inline `code` marks is prose, and more pasted-text nouns are named (note, docs, policy, FAQ…)', () => {
    const doc =
      'Keys are rotated with `POST /keys/{id}/rotate`, which returns the new secret once. The old key stays valid for `grace_seconds` ' +
      '(default 3600). Listing keys uses `GET /keys` and never shows a secret. Deleting a key with `DELETE /keys/{id}` is immediate and ' +
      'cannot be undone. Every call needs the `keys:write` scope except the listing, which needs `keys:read`. Rate limits apply per ' +
      'tenant, and a rotated key keeps its limits. Audit events are written for rotation and deletion.';
    const req = user(`<docs>\n${doc}\n</docs>\n\nWhich call do I use to rotate a key?`);
    expect(f(req, 'struct:sentences')).toBeLessThan(fu(doc, 'struct:sentences'));
    expect(f(req, 'struct:context')).toBeGreaterThan(0);
    for (const noun of ['note', 'docs', 'documentation', 'policy', 'FAQ', 'announcement', 'thread'])
      expect(splitMaterial(`Using the ${noun} below, answer my question.\n\n${doc}`), noun).not.toBeNull();
  });

  it('a phone number written without its +1 is no quantity (a re-test round: +0.13 on a legal-intake turn)', () => {
    for (const t of ['My number is 503-555-2817, call me please', 'Call me at (503) 555-2817 after six', 'Ring me on 07700 900123 tomorrow'])
      expect(fu(t, 'math:magnitude'), t).toBe(0);
    expect(fu('It costs 503 dollars and 2817 cents', 'math:magnitude')).toBeGreaterThan(0);
    expect(fu('Between 1990-2000 the town grew', 'math:magnitude')).toBeGreaterThan(0);
  });

  it('the pasted-text reading is linear on hostile input: many open tags with one close, long asks, long whitespace (a lazy regex took 1.8 s on 120 KB)', () => {
    for (const text of [
      `${'<a>'.repeat(80_000)} word word word</b>`,
      `${'<doc x="1">\n'.repeat(40_000)}</doc`,
      `Summarise the text${' '.repeat(400_000)}x\n\n${'word '.repeat(200)}`,
      `${'word '.repeat(100)}\n\nQuestion${' '.repeat(400_000)}:`,
      'one two three\n\n'.repeat(50_000),
    ]) {
      const t0 = performance.now();
      scoreRequest(user(text));
      // A generous bound (a denial-of-service test): linear work on these is a few milliseconds.
      expect(performance.now() - t0, text.slice(0, 40)).toBeLessThan(1000);
    }
  });

  it("on the app rounds' 192 requests (bench/data/app-traffic.json), none its author marked high_quality goes fast_cheap (bench/app-traffic.ts prints the rest)", () => {
    const data = JSON.parse(readFileSync(new URL('../../bench/data/app-traffic.json', import.meta.url), 'utf8')) as {
      rounds: Array<{ cases: Array<{ id: string; expected: string; request: RouteRequest }> }>;
    };
    const cases = data.rounds.flatMap((r) => r.cases);
    expect(cases.length).toBe(192);
    const lost = cases.filter((c) => c.expected === 'high_quality' && tier(c.request) === 'fast_cheap').map((c) => c.id);
    expect(lost).toEqual([]);
  });

  it('tools weigh less than a tier on their own (an agent sends them with every turn)', () => {
    const TOOLS = [{ type: 'function', function: { name: 'get_order', parameters: { type: 'object', properties: { id: { type: 'string' } } } } }];
    const ask = "Where's my order 55102?";
    expect(DEFAULT_MODEL.weights['struct:tools']).toBe(0.1);
    expect(tier(withSystem('You are a shop assistant.', ask, { tools: TOOLS }))).not.toBe('high_quality');
  });
});
