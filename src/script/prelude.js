// Evaluated once in each JavaScript engine: sets the globals promptfoo's
// scripts expect (a `process` with `env`, a `console` that prints nothing,
// a `require` that says what is missing) and returns the helpers the
// engine calls. The rules below are promptfoo 0.123's, so that a script
// means the same in both tools.
(function (env) {
  "use strict";
  const quiet = () => {};
  const noRequire = (name) => {
    throw new Error(
      "require('" + name + "') is not available: ai-evals runs JavaScript without Node.js modules",
    );
  };
  globalThis.console = { log: quiet, info: quiet, warn: quiet, error: quiet, debug: quiet, trace: quiet };
  globalThis.require = noRequire;
  globalThis.process = { env, mainModule: { require: noRequire } };

  function isEscaped(code, i) {
    let backslashes = 0;
    for (let j = i - 1; j >= 0 && code[j] === "\\"; j--) backslashes++;
    return backslashes % 2 === 1;
  }

  // The last `;` outside string and template literals.
  function lastStatementSemicolon(code) {
    let single = false;
    let double = false;
    let template = false;
    let last = -1;
    for (let i = 0; i < code.length; i++) {
      const c = code[i];
      if (!isEscaped(code, i)) {
        if (c === "'" && !double && !template) single = !single;
        else if (c === '"' && !single && !template) double = !double;
        else if (c === "`" && !single && !double) template = !template;
      }
      if (c === ";" && !single && !double && !template) last = i;
    }
    return last;
  }

  // An assertion's code as a function body: several lines are the body
  // itself; one line is an expression to return, or declarations
  // followed by one (`const s = …; s > 0.5`).
  function assertionBody(code) {
    code = code.trimEnd();
    if (code.includes("\n")) return code;
    const trimmed = code.trim().replace(/;+\s*$/, "");
    if (/^(const|let|var)\s/.test(trimmed)) {
      const last = lastStatementSemicolon(trimmed);
      if (last !== -1) {
        const expression = trimmed.slice(last + 1).trim();
        if (expression) return trimmed.slice(0, last + 1) + " return " + expression;
      }
      return trimmed;
    }
    return "return " + trimmed;
  }

  function isGradingResult(r) {
    const optional = (v, type) => v === undefined || typeof v === type;
    return (
      typeof r === "object" &&
      r !== null &&
      typeof r.pass === "boolean" &&
      typeof r.score === "number" &&
      typeof r.reason === "string" &&
      optional(r.namedScores, "object") &&
      optional(r.namedScoreWeights, "object") &&
      optional(r.tokensUsed, "object") &&
      (r.componentResults === undefined || Array.isArray(r.componentResults)) &&
      (r.assertion === undefined || r.assertion === null || typeof r.assertion === "object") &&
      optional(r.comment, "string")
    );
  }

  function dirname(path) {
    const slash = path.lastIndexOf("/");
    return slash === -1 ? "." : path.slice(0, slash);
  }

  return {
    assertionFunction(code) {
      return new Function("output", "context", "process", assertionBody(code));
    },
    transformFunction(code, parameter) {
      return new Function(parameter, "context", "process", code.includes("\n") ? code : "return " + code);
    },
    // A CommonJS file's exports, from its code wrapped as Node.js wraps it.
    commonJs(factory, filename) {
      const module = { exports: {} };
      factory.call(module.exports, module.exports, noRequire, module, filename, dirname(filename));
      return module.exports;
    },
    // The function a file's exports name: `name`, else the module itself
    // when it is a function, else its default export.
    pick(exports, name, file) {
      const module = (exports && exports.default && exports.default.default) || (exports && exports.default) || exports;
      if (name) {
        if (module != null && typeof module[name] === "function") return module[name];
        if (exports != null && typeof exports[name] === "function") return exports[name];
        throw new Error(file + " exports no function named " + name);
      }
      if (typeof module === "function") return module;
      if (module && typeof module.default === "function") return module.default;
      throw new Error(file + " must export a function (module.exports = …, or export default)");
    },
    invoke(fn, input, inputIsJson, context, inline) {
      const first = inputIsJson ? JSON.parse(input) : input;
      const ctx = JSON.parse(context);
      return inline ? fn(first, ctx, process) : fn(first, ctx);
    },
    // An assertion's result as promptfoo checks it: a boolean, a number,
    // or a GradingResult (sent back as JSON).
    assertion(r) {
      if (typeof r === "boolean" || typeof r === "number") return r;
      if (isGradingResult(r)) return JSON.stringify({ pass: r.pass, score: r.score, reason: r.reason });
      throw new Error(
        "Custom function must return a boolean, number, or GradingResult object. Got type " +
          typeof r + ": " + JSON.stringify(r),
      );
    },
    // A transform's result as JSON.
    transform(r) {
      if (r === null || r === undefined) throw new Error("Transform function did not return a value");
      const json = JSON.stringify(r);
      if (json === undefined) throw new Error("the transform returned a " + typeof r + ", which is no value");
      return json;
    },
  };
})
