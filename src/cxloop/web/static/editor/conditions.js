// The survey editor, part 3 of 4: the display logic and skip logic builder.
(function (E) {
  "use strict";

  var VALUELESS = ["answered", "not_answered"];
  var LIST_OPS = ["in", "not_in"];

  var S = E.state;
  var allQuestions = E.allQuestions, changed = E.changed, field = E.field, fmt = E.fmt, h = E.h,
    iconButton = E.iconButton, itemTools = E.itemTools, join = E.join, keyOf = E.keyOf, newId = E.newId,
    pretty = E.pretty, rerender = E.rerender, selectField = E.selectField, shorten = E.shorten,
    textIn = E.textIn;

  // A single comparison is stored bare, so "any" vs "all" is remembered here until a second one is added.
  var chosenModes = new WeakMap();

  function isComparison(value) {
    return value && typeof value === "object" && "source" in value;
  }

  function readCondition(condition, owner) {
    if (!condition) {
      return { mode: "none", rows: [] };
    }
    if (isComparison(condition)) {
      return { mode: chosenModes.get(owner) || "all", rows: [condition] };
    }
    var mode = Array.isArray(condition.all) ? "all" : Array.isArray(condition.any) ? "any" : null;
    if (mode && condition[mode].every(isComparison)) {
      return { mode: mode, rows: condition[mode] };
    }
    return null;
  }

  function writeCondition(owner, name, state, keepEmpty) {
    if (state.mode === "none" || (state.rows.length === 0 && !keepEmpty)) {
      delete owner[name];
    } else if (state.rows.length === 1) {
      owner[name] = state.rows[0];
    } else {
      var condition = {};
      condition[state.mode] = state.rows;
      owner[name] = condition;
    }
  }

  function coerce(text) {
    var trimmed = text.trim();
    if (/^-?\d+(\.\d+)?$/.test(trimmed)) {
      return Number(trimmed);
    }
    if (trimmed === "true" || trimmed === "false") {
      return trimmed === "true";
    }
    return trimmed;
  }

  function shownValue(value) {
    if (Array.isArray(value)) {
      return value.join(", ");
    }
    return value === undefined || value === null ? "" : String(value);
  }

  function fieldChoices(source) {
    if (source === "answers") {
      return allQuestions().map(function (item) {
        return [item.question.id, item.question.id + " · " + shorten(textIn(item.question.text), 30)];
      });
    }
    if (source === "embedded") {
      return (S.doc.embedded || []).map(function (e) { return [e.name, e.name]; });
    }
    return S.settings.contact_fields.map(function (name) { return [name, name]; });
  }

  function choiceIdsOf(questionId) {
    var found = allQuestions().filter(function (item) { return item.question.id === questionId; })[0];
    if (!found) {
      return [];
    }
    var q = found.question;
    if (q.choices) {
      return q.choices.map(function (c) { return c.id; });
    }
    return [];
  }

  function comparisonRow(state, index, owner, name, path, keepEmpty) {
    var row = state.rows[index];
    var rowPath = state.rows.length === 1 ? path : join(join(path, state.mode), index);
    var base = keyOf(row);
    var sources = S.settings.sources;
    var ops = S.settings.ops;
    var parts = [
      selectField(row, "source", join(rowPath, "source"), S.T.source, sources, {
        rerender: true, focus: base + ":source", fieldClass: "short",
        before: function (source) {
          var first = fieldChoices(source)[0];
          row.field = first ? first[0] : "";
        },
      }),
      selectField(row, "field", join(rowPath, "field"), S.T.field, [["", "—"]].concat(fieldChoices(row.source)), {
        rerender: true, focus: base + ":field",
      }),
      selectField(row, "op", join(rowPath, "op"), S.T.op, ops, {
        rerender: true, focus: base + ":op",
        before: function (op) {
          // Keep what was typed when moving between single-value and list comparisons.
          if (LIST_OPS.indexOf(op) !== -1 && row.value !== undefined && !Array.isArray(row.value)) {
            row.value = [row.value];
          } else if (LIST_OPS.indexOf(op) === -1 && Array.isArray(row.value)) {
            row.value = row.value[0];
          }
        },
      }),
    ];
    if (VALUELESS.indexOf(row.op) === -1) {
      var listId = newId("list");
      var listed = LIST_OPS.indexOf(row.op) !== -1;
      var input = h("input", {
        type: "text",
        value: shownValue(row.value),
        list: listId,
        oninput: function () {
          if (listed) {
            row.value = input.value.split(",").map(function (s) { return s.trim(); })
              .filter(function (s) { return s !== ""; }).map(coerce);
          } else if (input.value.trim() === "") {
            delete row.value;
          } else {
            row.value = coerce(input.value);
          }
          changed();
        },
      });
      parts.push(field(listed ? S.T.value_list : S.T.value, input, join(rowPath, "value")));
      parts.push(h("datalist", { id: listId }, choiceIdsOf(row.field).map(function (id) {
        return h("option", { value: id });
      })));
    } else {
      delete row.value;
    }
    parts.push(iconButton(S.T.delete, fmt(S.T.delete_named, { name: fmt(S.T.condition, { n: index + 1 }) }), function () {
      state.rows.splice(index, 1);
      writeCondition(owner, name, state, keepEmpty);
      rerender(keyOf(owner) + ":" + name + ":add");
    }, { danger: true }));
    return h("li", { class: "comparison", "data-path": rowPath }, parts);
  }

  function conditionEditor(owner, name, path, label, modes, keepEmpty) {
    var fieldset = h("fieldset", { class: "condition", "data-path": path }, [h("legend", { text: label })]);
    var state = readCondition(owner[name], owner);
    if (state === null) {
      fieldset.appendChild(h("p", { class: "note", text: S.T.complex_condition }));
      fieldset.appendChild(h("pre", { class: "condition-json", text: pretty(owner[name]) }));
      return fieldset;
    }
    if (state.mode === "none" && modes.indexOf("none") === -1) {
      state.mode = "all";
    }
    var holder = { mode: state.mode };
    fieldset.appendChild(selectField(holder, "mode", join(path, "mode"), label, modes.map(function (m) {
      return [m, { none: S.T.always, all: S.T[keepEmpty ? "skip_all" : "when_all"], any: S.T[keepEmpty ? "skip_any" : "when_any"] }[m]];
    }), {
      focus: keyOf(owner) + ":" + name + ":mode",
      fieldClass: "label-hidden",
    }));
    var modeSelect = fieldset.querySelector("select");
    modeSelect.removeAttribute("data-path");
    modeSelect.addEventListener("change", function () {
      state.mode = holder.mode;
      chosenModes.set(owner, state.mode);
      if (state.mode !== "none" && state.rows.length === 0) {
        state.rows.push(newComparison());
      }
      writeCondition(owner, name, state, keepEmpty);
      rerender(keyOf(owner) + ":" + name + ":mode");
    });
    if (state.mode !== "none") {
      var list = h("ol", { class: "comparisons" });
      state.rows.forEach(function (_, index) {
        list.appendChild(comparisonRow(state, index, owner, name, path, keepEmpty));
      });
      fieldset.appendChild(list);
      fieldset.appendChild(h("button", {
        type: "button",
        class: "small",
        "data-focus": keyOf(owner) + ":" + name + ":add",
        onclick: function () {
          state.rows.push(newComparison());
          writeCondition(owner, name, state, keepEmpty);
          rerender(keyOf(owner) + ":" + name + ":add");
        },
      }, [S.T.add_condition]));
    }
    return fieldset;
  }

  function newComparison() {
    var questions = allQuestions();
    return { source: "answers", field: questions.length ? questions[0].question.id : "", op: "answered" };
  }

  // --- skip logic --------------------------------------------------------------------------

  function skipRules(page, pageIndex) {
    var path = join(join("pages", pageIndex), "skip_logic");
    var rules = page.skip_logic || [];
    var fieldset = h("fieldset", { class: "skip-logic", "data-path": path }, [h("legend", { text: S.T.skip_logic })]);
    if (!rules.length) {
      fieldset.appendChild(h("p", { class: "note", text: S.T.no_rules }));
    }
    var targets = (S.doc.pages || []).slice(pageIndex + 1).map(function (p, i) {
      return [p.id, fmt(S.T.page, { n: pageIndex + i + 2 }) + " · " + p.id];
    }).concat([["end", S.T.end]]);
    var list = h("ol", { class: "rules" });
    rules.forEach(function (rule, index) {
      var rulePath = join(path, index);
      var name = fmt(S.T.rule, { n: index + 1 });
      list.appendChild(h("li", { class: "rule", "data-path": rulePath }, [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(rules, index, name, keyOf(rule), keyOf(page) + ":add-rule"),
        ]),
        conditionEditor(rule, "when", join(rulePath, "when"), S.T.when, ["all", "any"], true),
        selectField(rule, "to", join(rulePath, "to"), S.T.skip_to, targets),
      ]));
    });
    fieldset.appendChild(list);
    fieldset.appendChild(h("button", {
      type: "button",
      class: "small",
      "data-focus": keyOf(page) + ":add-rule",
      onclick: function () {
        var first = (page.questions || [])[0];
        rules.push({
          when: { source: "answers", field: first ? first.id : "", op: "answered" },
          to: targets[0][0],
        });
        page.skip_logic = rules;
        rerender(keyOf(page) + ":add-rule");
      },
    }, [S.T.add_rule]));
    return fieldset;
  }

  Object.assign(E, { conditionEditor: conditionEditor, skipRules: skipRules });
})(window.cxloopEditor);
