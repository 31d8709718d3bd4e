/**
 * The opt-in `language` check: an answer in another script than the question fails; what cannot
 * be judged (short texts, mixed questions, a language named or a translation asked for, code)
 * passes. Through `checkAnswer`, as the cascade calls it.
 */
import { describe, expect, it } from 'vitest';
import type { CascadeCheck } from '../../src/config/schema.js';
import type { Answer } from '../../src/quality/answer.js';
import { checkAnswer, type CheckRequest } from '../../src/quality/checks.js';
import { languageMismatch } from '../../src/quality/language.js';
import { SchemaCache } from '../../src/quality/schema-cache.js';

const settings = (checks: CascadeCheck[]) => ({ enabled: new Set(checks), minLogprob: -1, schemas: new SchemaCache(8) });
const answer = (content: string, over: Partial<Answer> = {}): Answer => ({
  content,
  refusal: null,
  toolCalls: [],
  finishReason: 'stop',
  logprobs: null,
  ...over,
});
const req = (asked: string, instructions = ''): CheckRequest => ({ responseFormat: null, tools: null, clientMaxTokens: null, asked, instructions });
const failed = (asked: string, content: string, instructions = '', checks: CascadeCheck[] = ['empty', 'refusal', 'language']) =>
  checkAnswer(answer(content), req(asked, instructions), settings(checks), 40).failed;

const ZH_Q = '请解释一下机器学习和深度学习之间的主要区别是什么？';
const ZH_A = '机器学习是人工智能的一个分支，深度学习是机器学习中使用多层神经网络的一类方法。';
const EN_A = 'Machine learning is a branch of AI; deep learning is a subset of it that uses neural networks with many layers.';
const RU_Q = 'Объясни, пожалуйста, чем отличается машинное обучение от глубокого обучения?';
const AR_Q = 'ما هو الفرق بين التعلم الآلي والتعلم العميق؟ اشرح بالتفصيل من فضلك';
const EN_Q = 'What is the main difference between machine learning and deep learning?';

describe('language check', () => {
  it('an answer in another script than the question fails, naming both', () => {
    expect(failed(ZH_Q, EN_A)).toEqual(['language']);
    expect(failed(RU_Q, EN_A)).toEqual(['language']);
    expect(failed(AR_Q, EN_A)).toEqual(['language']);
    expect(failed(EN_Q, ZH_A)).toEqual(['language']);
    expect(languageMismatch(ZH_Q, '', EN_A)).toBe('asked in CJK script, answered in Latin (0% CJK)');
  });

  it('an answer in the question’s script passes, foreign names, terms and code in it included', () => {
    expect(failed(ZH_Q, ZH_A)).toEqual([]);
    expect(failed(EN_Q, EN_A)).toEqual([]);
    expect(failed(ZH_Q, `${ZH_A} 常见的框架有 PyTorch 和 TensorFlow。`)).toEqual([]);
    expect(failed(ZH_Q, `可以这样写：\n\`\`\`python\nimport torch\nmodel = torch.nn.Linear(10, 2)\nprint(model)\n\`\`\`\n这就是一个线性层。`)).toEqual([]);
    expect(failed(RU_Q, 'Машинное обучение — это широкая область; глубокое обучение использует нейронные сети (deep neural networks).')).toEqual([]);
  });

  it('a language named or a translation asked for, in the question or the instructions, is the client’s choice: not judged', () => {
    expect(failed('请把下面这段话翻译成英文：机器学习是人工智能的一个分支。', EN_A)).toEqual([]);
    expect(failed('用英文回答：机器学习和深度学习之间的主要区别是什么？', EN_A)).toEqual([]);
    expect(failed(ZH_Q, EN_A, 'Always answer in English.')).toEqual([]);
    expect(failed('Переведи на английский: машинное обучение отличается от глубокого обучения.', EN_A)).toEqual([]);
    expect(failed('Translate into Chinese: machine learning is a branch of artificial intelligence.', ZH_A)).toEqual([]);
  });

  it('a question about programming languages, natural language or language models names no language for the answer: judged', () => {
    for (const q of [
      '什么是大语言模型？请详细解释一下它的工作原理和训练过程。',
      'Python和Go这两种编程语言哪个更适合用来开发后端服务？',
      '自然语言处理主要有哪些应用场景？请举几个具体的例子说明。',
      'Что такое большая языковая модель и как она обучается на текстах?',
      'Какой язык программирования лучше всего подходит для анализа данных?',
      '대규모 언어 모델은 어떻게 학습되나요? 자세히 설명해 주세요.',
      'ภาษาโปรแกรมไหนเหมาะสำหรับผู้เริ่มต้นเรียนเขียนโปรแกรมมากที่สุด',
    ])
      expect(failed(q, EN_A), q).toEqual(['language']);
    // A language named beside them still is the client's choice.
    expect(failed('什么是大语言模型？请用英文详细解释一下它的工作原理和训练过程。', EN_A)).toEqual([]);
    expect(failed('Какой язык программирования лучше? Ответь на английском языке, пожалуйста.', EN_A)).toEqual([]);
    expect(failed('请问这个问题用什么语言回答比较好？请详细说明一下原因和理由。', EN_A)).toEqual([]);
  });

  it('an instruction around pasted text is the client’s language: a Chinese summary of an English article passes', () => {
    const article = 'The committee met on Tuesday to discuss the budget for the coming year. '.repeat(20);
    expect(failed(`请总结以下文章：\n${article}`, ZH_A)).toEqual([]);
    expect(failed(`${article}\n\n请用一句话总结上面的内容。`, ZH_A)).toEqual([]);
    // The article's own language is fine too.
    expect(failed(`请总结以下文章：\n${article}`, EN_A)).toEqual([]);
    // A Chinese question with a few English terms in it is still Chinese: an English answer fails.
    expect(failed('请详细解释一下React里面hooks的工作原理，以及它和class组件的生命周期方法相比有哪些优点和缺点？', EN_A)).toEqual(['language']);
  });

  it('a question over 8,000 characters is read at its end too: an instruction after a long pasted text is the client’s', () => {
    const article = 'The committee met on Tuesday to discuss the budget for the coming year. '.repeat(150);
    expect(article.length).toBeGreaterThan(8_000);
    expect(failed(`${article}\n\n请用一句话总结上面的内容。`, ZH_A)).toEqual([]);
    // A translation asked for after a long text: the answer's language is the client's choice.
    const zhArticle = '委员会周二开会讨论了来年的预算安排和各部门的支出计划。'.repeat(400);
    expect(failed(`${zhArticle}\n请将以上内容翻译成英文`, EN_A)).toEqual([]);
    // What the question is in is still told by its start: a long Chinese question answered in English fails.
    expect(failed(`${zhArticle}\n这段话的主要意思是什么？`, EN_A)).toEqual(['language']);
  });

  it('math is not read, as code is not: a Chinese derivation written in LaTeX passes', () => {
    const q = '请帮我求一下正弦乘以余弦这个函数的导数，并写出详细的求解步骤。';
    const display = String.raw`我们有：
$$\begin{aligned} f(x) &= \sin(x)\cos(x) \\ f'(x) &= \cos(x)\cos(x) - \sin(x)\sin(x) \\ &= \cos(2x) \end{aligned}$$
因此导数为 $\cos(2x)$。`;
    expect(failed(q, display)).toEqual([]);
    const brackets = String.raw`由乘积法则：
\[ f'(x) = \frac{d}{dx}\left[\sin x\right]\cdot\cos x + \sin x\cdot\frac{d}{dx}\left[\cos x\right] = \cos^2 x - \sin^2 x \]
所以导数是 \(\cos 2x\)。`;
    expect(failed(q, brackets)).toEqual([]);
    // Prices are no math: an English answer with dollar amounts to a Chinese question still fails.
    expect(failed(ZH_Q, 'It costs $5 and the deep learning course is $10, which is a branch of machine learning with many layers.')).toEqual(['language']);
  });

  it('a code block fenced with tildes is code too', () => {
    const code = 'import torch\nmodel = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU(), torch.nn.Linear(20, 2))\nprint(model)';
    expect(failed('请用PyTorch写一个简单的两层神经网络的例子，并解释一下每一行代码的作用', `可以这样写：\n~~~python\n${code}\n~~~\n这就是模型。`)).toEqual([]);
  });

  it('a JSON answer (response_format json_object or json_schema) is not judged: its keys and enum values are the client’s schema’s', () => {
    const schema = {
      type: 'object',
      properties: {
        sentiment: { type: 'string', enum: ['positive', 'negative', 'neutral'] },
        confidence: { type: 'number' },
        topics: { type: 'array', items: { type: 'string', enum: ['service', 'food', 'price', 'ambience'] } },
      },
      required: ['sentiment', 'confidence', 'topics'],
    };
    const asked = '请判断这条评论的情感：这家餐厅的服务太差了，菜也很难吃，再也不会来了。';
    const json = '{"sentiment": "negative", "confidence": 0.95, "topics": ["service", "food"]}';
    const checks = settings(['empty', 'refusal', 'invalid_json', 'schema', 'language']);
    for (const responseFormat of [{ type: 'json_schema', json_schema: { name: 'review', schema } }, { type: 'json_object' }])
      expect(checkAnswer(answer(json), { ...req(asked), responseFormat }, checks, 20).failed).toEqual([]);
    // A text answer to the same question is judged.
    expect(checkAnswer(answer(EN_A), { ...req(asked), responseFormat: { type: 'text' } }, checks, 20).failed).toEqual(['language']);
  });

  it('an answer partly in the question’s language passes (Hindi answered the mixed way); a list of names is no prose', () => {
    const HI_Q = 'मशीन लर्निंग क्या है? इसे सरल शब्दों में समझाइए और कुछ उदाहरण भी दीजिए';
    const hinglish =
      'Machine Learning (ML) एक ऐसी technique है जिसमें computer बिना explicitly programmed हुए data से patterns सीखता है। Examples: spam filtering, recommendation systems, image recognition.';
    expect(failed(HI_Q, hinglish)).toEqual([]);
    expect(failed(HI_Q, EN_A)).toEqual(['language']);
    expect(failed('请列出五个目前最流行的前端开发框架，并按受欢迎程度排序', 'React, Vue, Angular, Svelte, SolidJS, Preact, Next.js, Nuxt')).toEqual([]);
    expect(failed(RU_Q, 'Albert Einstein, Niels Bohr, Max Planck, Werner Heisenberg, Erwin Schrödinger, Paul Dirac')).toEqual([]);
    // A quoted term does not make an English answer Chinese.
    expect(failed(ZH_Q, `“机器学习” means this. ${EN_A} ${EN_A}`)).toEqual(['language']);
  });

  it('what is too short or mixed to tell passes', () => {
    expect(failed('北京是哪个国家的首都？', 'China.')).toEqual([]);
    expect(failed(ZH_Q, 'Yes, definitely.')).toEqual([]);
    expect(failed('What does 机器学习 mean?', EN_A)).toEqual([]);
    expect(failed(`${ZH_Q}\n\`\`\`js\n${'const value = computeSomethingVeryLong(input);\n'.repeat(20)}\`\`\``, EN_A)).toEqual(['language']);
    expect(failed('Please fix this code for me, it does not compile: `const 数据 = 1`', ZH_A)).toEqual(['language']);
    expect(failed('Please fix this: `const 数据 = 1`', ZH_A)).toEqual([]);
  });

  it('a refusal, an empty answer or a tool call is named by its own check, not this one; off unless listed', () => {
    expect(failed(ZH_Q, "I'm sorry, but I can't help with that.")).toEqual(['refusal']);
    expect(failed(ZH_Q, '')).toEqual(['empty']);
    expect(checkAnswer(answer('', { toolCalls: [{ name: 'lookup', arguments: '{}' }] }), req(ZH_Q), settings(['language']), 5).failed).toEqual([]);
    expect(failed(ZH_Q, EN_A, '', ['empty', 'refusal'])).toEqual([]);
    // Without the request's text (asked undefined) nothing is judged.
    expect(checkAnswer(answer(EN_A), { responseFormat: null, tools: null, clientMaxTokens: null }, settings(['language']), 40).failed).toEqual([]);
  });

  it('is bounded: a megabyte question and answer are read in their first 8,000 characters', () => {
    const big = '机器学习'.repeat(250_000);
    expect(failed(big, EN_A.repeat(10_000))).toEqual(['language']);
  });
});
