/**
 * The opt-in `language` check of the quality cascade: an answer written in another script than
 * the question (a cheap model answering a Chinese, Russian or Arabic question in English, or an
 * English one in Chinese) is not what the user can use, however right it is. Judged by writing
 * system (script), not by language: Latin-script languages are not told apart (a French question
 * answered in English passes), nor are Chinese and Japanese. Pure and bounded.
 *
 * It passes whatever it cannot judge: a question or an answer too short to tell (a number, a
 * name, "OK"), a question in mixed scripts, and any request whose question or instructions name
 * a language or ask for a translation ("translate into English", "用英文回答", "Answer in
 * German"): there the answer's language is the client's choice, not the question's; nor when the
 * question opens or closes in the answer's script (an instruction around pasted text: "请总结以下
 * 文章：" before an English article). Code blocks, inline code, URLs and TeX math are not read. A text is read
 * in its first 8,000 characters, and a question longer than that in its last 8,000 too (where an
 * instruction after a long pasted text is).
 */

/** A writing system, as far as the check tells them apart. */
type Script = string;

/** [first code point, last, script, weight]: a Han character or a Hangul syllable holds about as much as three letters. */
const RANGES: ReadonlyArray<readonly [number, number, Script, number]> = [
  [0x00c0, 0x024f, 'Latin', 1],
  [0x0370, 0x03ff, 'Greek', 1],
  [0x0400, 0x052f, 'Cyrillic', 1],
  [0x0530, 0x058f, 'Armenian', 1],
  [0x0590, 0x05ff, 'Hebrew', 1],
  [0x0600, 0x06ff, 'Arabic', 1],
  [0x0750, 0x077f, 'Arabic', 1],
  [0x08a0, 0x08ff, 'Arabic', 1],
  [0x0900, 0x097f, 'Devanagari', 1],
  [0x0980, 0x09ff, 'Bengali', 1],
  [0x0a00, 0x0a7f, 'Gurmukhi', 1],
  [0x0a80, 0x0aff, 'Gujarati', 1],
  [0x0b00, 0x0b7f, 'Oriya', 1],
  [0x0b80, 0x0bff, 'Tamil', 1],
  [0x0c00, 0x0c7f, 'Telugu', 1],
  [0x0c80, 0x0cff, 'Kannada', 1],
  [0x0d00, 0x0d7f, 'Malayalam', 1],
  [0x0d80, 0x0dff, 'Sinhala', 1],
  [0x0e00, 0x0e7f, 'Thai', 1],
  [0x0e80, 0x0eff, 'Lao', 1],
  [0x0f00, 0x0fff, 'Tibetan', 1],
  [0x1000, 0x109f, 'Myanmar', 1],
  [0x10a0, 0x10ff, 'Georgian', 1],
  [0x1100, 0x11ff, 'Hangul', 3],
  [0x1200, 0x139f, 'Ethiopic', 1],
  [0x1780, 0x17ff, 'Khmer', 1],
  [0x1e00, 0x1eff, 'Latin', 1],
  [0x1f00, 0x1fff, 'Greek', 1],
  [0x3040, 0x30ff, 'CJK', 3],
  [0x3130, 0x318f, 'Hangul', 3],
  [0x31f0, 0x31ff, 'CJK', 3],
  [0x3400, 0x4dbf, 'CJK', 3],
  [0x4e00, 0x9fff, 'CJK', 3],
  [0xac00, 0xd7af, 'Hangul', 3],
  [0xf900, 0xfaff, 'CJK', 3],
  [0xfb50, 0xfdff, 'Arabic', 1],
  [0xfe70, 0xfeff, 'Arabic', 1],
  [0x20000, 0x2ffff, 'CJK', 3],
];

/** Only this much of each text is read: a language shows in its first lines, and the check stays bounded. */
const MAX_READ_CHARS = 8_000;
/** Below this weight (about five English words, or eight Chinese characters) a text is too short to judge. */
const MIN_WEIGHT = 24;
/** The question's script must hold this share of its letters (else it is mixed, and not judged). */
const QUESTION_SHARE = 0.6;
/**
 * An answer with less than this share in the question's script, and mostly another, fails. Low:
 * an answer partly in the question's language is in it (Hindi answered the common mixed way,
 * "Machine Learning एक ऐसी technique है…", holds 12–19 % Devanagari); a wrong-language answer
 * holds next to none (a quoted term).
 */
const ANSWER_SHARE = 0.1;
/** A Latin-script answer whose words mostly begin in capitals is a list of names (frameworks, people), not prose. */
const PROSE_LOWER_SHARE = 0.5;
const LATIN_WORD = /[A-Za-z][A-Za-z'-]*/g;

/** Whether most Latin words of the text begin in lower case (prose), rather than in capitals (names, acronyms). */
function latinProse(t: string): boolean {
  let words = 0;
  let lower = 0;
  for (const m of t.matchAll(LATIN_WORD)) {
    words++;
    const c = m[0].charCodeAt(0);
    if (c >= 0x61 && c <= 0x7a) lower++;
  }
  return words > 0 && lower >= words * PROSE_LOWER_SHARE;
}

/**
 * A language named, or a translation asked for, in the question or the instructions: the answer's
 * language is then the client's choice. Stems in the languages whose scripts the check reads.
 */
const NAMES_A_LANGUAGE =
  /english|chinese|mandarin|cantonese|japanese|korean|russian|ukrainian|french|german|spanish|portuguese|italian|arabic|persian|farsi|hebrew|hindi|greek|thai|translat|anglais|englisch|ingl[eé]s|inglese|chinois|chino|chinesisch|cinese|japonais|japon[eé]s|japanisch|fran[cç]ais|franc[eé]s|franz[öo]sisch|deutsch|allemand|alem[aã]n|espa[nñ]ol|spanisch|russe|ruso|russisch|traduc|tradu[iz]|[üu]bersetz|英文|英语|英語|中文|汉语|漢語|华语|華語|普通话|国语|日语|日文|日本語|韩语|韓語|韩文|韓文|韓国語|法语|法文|德语|德文|俄语|俄文|西班牙语|语言|語言|翻译|翻譯|翻訳|英訳|和訳|訳して|영어|한국어|중국어|일본어|번역|영문|언어|английск|русск|китайск|японск|французск|немецк|испанск|украинск|перев[оеи]д|язык|англ|الإنجليزية|الانجليزية|العربية|ترجم|انگلیسی|ترجمه|अंग्रेज़ी|अंग्रेजी|हिंदी|हिन्दी|अनुवाद|ภาษา|แปล|αγγλικ|ελληνικ|μετάφρ|אנגלית|עברית|תרגם|תרגום/i;

/**
 * Code (fenced with backticks or tildes, inline), links, and TeX math (`$$…$$`, `\[…\]`, `\(…\)`, an environment, and
 * inline `$…$` as pandoc reads it: no space inside its dollars, no digit after the closing one, so
 * "$5 and $10" is no math). Math is as language-neutral as code: a Chinese derivation's `\frac`,
 * `\sin` and `\begin{aligned}` outweighed its Chinese words. Unclosed, each runs to the end (as a
 * fence does), which keeps the scan linear.
 */
const CODE_AND_LINKS =
  /```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`|\bhttps?:\/\/\S+|\$\$[\s\S]*?(?:\$\$|$)|\\\[[\s\S]*?(?:\\\]|$)|\\\([\s\S]*?(?:\\\)|$)|\\begin\{([A-Za-z]+\*?)\}[\s\S]*?(?:\\end\{\1\}|$)|\$(?=[^\s$])[^$\n]*?[^\s$]\$(?!\d)|\$[^\s$]\$(?!\d)/g;

/** What of a text is read: its first MAX_READ_CHARS, code and links left out. */
function readable(text: string): string {
  return (text.length > MAX_READ_CHARS ? text.slice(0, MAX_READ_CHARS) : text).replace(CODE_AND_LINKS, ' ');
}

/**
 * The last MAX_READ_CHARS of a text longer than that, code and links left out (null when the text
 * is read whole): a long question's closing instruction ("请总结上面的内容", "translate the above
 * into English") comes after the pasted text that fills its first MAX_READ_CHARS.
 */
function readableEnd(text: string): string | null {
  return text.length > MAX_READ_CHARS ? text.slice(-MAX_READ_CHARS).replace(CODE_AND_LINKS, ' ') : null;
}

/** Weight per script of a text's letters. */
function scripts(t: string): { total: number; top: Script; topWeight: number; of: Map<Script, number> } {
  const of = new Map<Script, number>();
  let total = 0;
  for (let i = 0; i < t.length; i++) {
    let c = t.charCodeAt(i);
    let script: Script | null = null;
    let w = 1;
    if (c < 0x80) {
      if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) script = 'Latin';
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length) {
        c = t.codePointAt(i)!;
        i++;
      }
      if (c === 0xd7 || c === 0xf7) continue; // × ÷
      if (c >= 0x4e00 && c <= 0x9fff) {
        // The common Han block, first: most non-ASCII text read here is Chinese or Japanese.
        script = 'CJK';
        w = 3;
      } else
        for (const [lo, hi, s, weight] of RANGES) {
          if (c < lo) break;
          if (c <= hi) {
            script = s;
            w = weight;
            break;
          }
        }
    }
    if (script === null) continue;
    of.set(script, (of.get(script) ?? 0) + w);
    total += w;
  }
  let top: Script = '';
  let topWeight = 0;
  for (const [s, w] of of)
    if (w > topWeight) {
      top = s;
      topWeight = w;
    }
  return { total, top, topWeight, of };
}

/** How much of the question's opening and closing words are read for the client's own language. */
const EDGE_CHARS = 40;
/** A script holding this share of the question's opening or closing words is the client's. */
const EDGE_SHARE = 0.25;

/**
 * Whether the question opens or closes in `script`: the client's own words around pasted text
 * ("请总结以下文章：" before an English article, "Summarise this:" after a Chinese one), whatever
 * script the pasted text is in.
 */
function opensOrCloses(t: string, end: string | null, script: Script): boolean {
  for (const edge of [t.trim().slice(0, EDGE_CHARS), (end ?? t).trim().slice(-EDGE_CHARS)]) {
    const e = scripts(edge);
    if (e.total > 0 && (e.of.get(script) ?? 0) >= e.total * EDGE_SHARE) return true;
  }
  return false;
}

/**
 * The word "language" where it names no language for the answer: a programming, markup, query or
 * natural language, a language model (编程语言, 大语言模型, 自然语言处理, язык программирования,
 * языковая модель, 언어 모델, ภาษาโปรแกรม). Left out before NAMES_A_LANGUAGE reads the text: the
 * bare word's stem there skipped the check for every question about code or LLMs.
 */
const NOT_FOR_THE_ANSWER =
  /(?:编程|程序|程式|自然|机器|機器|汇编|彙編|标记|標記|查询|查詢|脚本|腳本|计算机|計算機|形式)(?:语言|語言)|(?:语言|語言)(?:模型|处理|處理)|(?:프로그래밍|자연|기계|마크업|스크립트)\s*언어|언어\s*모델|язык\S*\s+(?:программ|разметк|запрос)\S*|языков\S*\s+модел\S*|(?:естественн|машинн)\S*\s+язык\S*|ภาษา(?:โปรแกรม|คอมพิวเตอร์|ธรรมชาติ)/gi;

/** Whether the text names a language or asks for a translation (its first and, when longer, its last MAX_READ_CHARS). */
function namesLanguage(text: string): boolean {
  const names = (t: string): boolean => NAMES_A_LANGUAGE.test(t.replace(NOT_FOR_THE_ANSWER, ' '));
  if (text.length <= MAX_READ_CHARS) return names(text);
  return names(text.slice(0, MAX_READ_CHARS)) || names(text.slice(-MAX_READ_CHARS));
}

/**
 * Why the answer is in the wrong script for the question, or null when it is not (or cannot be
 * told). `asked`: the last user message's text; `instructions`: the system and developer messages'.
 */
export function languageMismatch(asked: string, instructions: string, answer: string): string | null {
  const t = readable(asked);
  const q = scripts(t);
  if (q.total < MIN_WEIGHT || q.topWeight < q.total * QUESTION_SHARE) return null;
  const at = readable(answer);
  const a = scripts(at);
  if (a.total < MIN_WEIGHT || a.top === q.top) return null;
  const share = (a.of.get(q.top) ?? 0) / a.total;
  if (share >= ANSWER_SHARE) return null;
  if (a.top === 'Latin' && !latinProse(at)) return null;
  if (opensOrCloses(t, readableEnd(asked), a.top)) return null;
  if (namesLanguage(asked) || namesLanguage(instructions)) return null;
  return `asked in ${q.top} script, answered in ${a.top} (${Math.round(share * 100)}% ${q.top})`;
}
