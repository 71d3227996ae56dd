// The structured survey editor: a form over the same JSON document the
// textarea holds. Without this file the page still edits the raw JSON.
// Everything is built with createElement/textContent, never innerHTML, so
// survey texts cannot inject markup.
(function () {
  "use strict";

  var LANG_KEYS = ["title", "description", "text", "low_label", "high_label", "placeholder", "message",
    "expectation_label", "perception_label"];
  var CHOICE_TYPES = ["single_choice", "multiple_choice", "dropdown", "ranking"];
  var SCALE_TYPES = ["nps", "csat", "ces", "rating"];
  var VALUELESS = ["answered", "not_answered"];
  var LIST_OPS = ["in", "not_in"];
  var LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

  var form, textarea, root, jsonView, statusBox, summaryBox, settings, T;
  var doc = null;
  var dirty = false;
  var view = "structured";
  var lastErrors = [];
  var expanded = new WeakSet();
  // A single comparison is stored bare, so "any" vs "all" is remembered here until a second one is added.
  var chosenModes = new WeakMap();
  var keys = new WeakMap();
  var cardObjects = new WeakMap();
  var keyCount = 0;
  var idCount = 0;

  // --- small helpers ---------------------------------------------------------

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function newId(prefix) {
    idCount += 1;
    return "ed-" + prefix + "-" + idCount;
  }

  function keyOf(object) {
    if (!keys.has(object)) {
      keyCount += 1;
      keys.set(object, "k" + keyCount);
    }
    return keys.get(object);
  }

  function join(base, part) {
    if (typeof part === "number") {
      return base + "[" + part + "]";
    }
    return base ? base + "." + part : part;
  }

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    var value;
    Object.keys(attrs || {}).forEach(function (name) {
      var v = attrs[name];
      if (v === null || v === undefined || v === false) {
        return;
      }
      if (name === "text") {
        el.textContent = v;
      } else if (name === "class") {
        el.className = v;
      } else if (name.slice(0, 2) === "on") {
        el.addEventListener(name.slice(2), v);
      } else if (name === "value") {
        value = v;
      } else if (name === "checked") {
        el.checked = true;
      } else {
        el.setAttribute(name, v === true ? "" : String(v));
      }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined && child !== false) {
        el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    if (value !== undefined) {
      el.value = value;
    }
    return el;
  }

  // Label of ``key`` in a list of [key, label] pairs.
  function labelOf(pairs, key) {
    var found = pairs.filter(function (pair) { return pair[0] === key; })[0];
    return found ? found[1] : key;
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  function defaultLanguage() {
    return doc.default_language || (doc.languages || [])[0] || "";
  }

  function textIn(text) {
    if (!text) {
      return "";
    }
    return text[defaultLanguage()] || text[Object.keys(text)[0]] || "";
  }

  function shorten(text, size) {
    return text.length > size ? text.slice(0, size - 1) + "…" : text;
  }

  function allQuestions() {
    var found = [];
    (doc.pages || []).forEach(function (page, pageIndex) {
      (page.questions || []).forEach(function (question) {
        found.push({ question: question, page: pageIndex });
      });
    });
    return found;
  }

  function uniqueId(prefix, taken) {
    var n = 1;
    while (taken.indexOf(prefix + n) !== -1) {
      n += 1;
    }
    return prefix + n;
  }

  function move(list, index, by) {
    var target = index + by;
    if (target < 0 || target >= list.length) {
      return;
    }
    var item = list.splice(index, 1)[0];
    list.splice(target, 0, item);
  }

  // --- state changes -----------------------------------------------------------

  function setDirty(value) {
    dirty = value;
    var publish = document.getElementById("publish-button");
    var note = document.getElementById("publish-note");
    if (publish) {
      publish.disabled = dirty;
    }
    if (note) {
      note.textContent = dirty ? T.save_first : note.dataset.text;
    }
    if (dirty) {
      statusBox.textContent = T.unsaved;
    }
  }

  function changed() {
    setDirty(true);
  }

  // Re-render after a structural change, keeping focus on the same control.
  function rerender(focusKey) {
    var active = document.activeElement;
    var key = focusKey || (active && active.dataset ? active.dataset.focus : null);
    setDirty(true);
    // Paths shift when items move, so errors from the last save would point at the wrong fields.
    lastErrors = [];
    render();
    restoreFocus(key);
  }

  function restoreFocus(key) {
    if (!key) {
      return;
    }
    var target = root.querySelector('[data-focus="' + CSS.escape(key) + '"]');
    if (target && target.disabled) {
      var twin = key.replace(/:up$/, ":down").replace(/:down$/, ":up");
      target = root.querySelector('[data-focus="' + CSS.escape(twin) + '"]') || target;
    }
    if (target && !target.disabled) {
      target.focus();
    }
  }

  // --- field builders --------------------------------------------------------------

  function field(label, control, path, extraClass) {
    var id = control.id || newId("f");
    control.id = id;
    if (path) {
      control.dataset.path = path;
    }
    return h("div", { class: "field" + (extraClass ? " " + extraClass : "") }, [
      h("label", { for: id, text: label }),
      control,
    ]);
  }

  function textField(owner, name, path, label, options) {
    options = options || {};
    var input = h("input", {
      type: options.type || "text",
      value: owner[name] === undefined || owner[name] === null ? "" : String(owner[name]),
      autocomplete: "off",
      spellcheck: options.spellcheck === false ? "false" : null,
      "data-focus": options.focus || null,
      oninput: function () {
        var value = input.value;
        if (value === "" && !options.keepEmpty) {
          delete owner[name];
        } else {
          owner[name] = value;
        }
        if (options.onchange) {
          options.onchange(value);
        }
        changed();
      },
    });
    return field(label, input, path, options.fieldClass);
  }

  function numberField(owner, name, path, label, options) {
    options = options || {};
    var input = h("input", {
      type: "number",
      inputmode: options.integer ? "numeric" : "decimal",
      step: options.integer ? "1" : "any",
      min: options.min,
      max: options.max,
      value: owner[name] === undefined || owner[name] === null ? "" : String(owner[name]),
      oninput: function () {
        if (input.value === "") {
          delete owner[name];
        } else {
          owner[name] = Number(input.value);
        }
        changed();
      },
    });
    return field(label, input, path, "short");
  }

  function checkField(owner, name, path, label, focus) {
    var id = newId("c");
    var input = h("input", {
      type: "checkbox",
      id: id,
      checked: !!owner[name],
      "data-path": path,
      "data-focus": focus || null,
      onchange: function () {
        if (input.checked) {
          owner[name] = true;
        } else {
          delete owner[name];
        }
        changed();
      },
    });
    return h("div", { class: "field" }, [h("label", { class: "check", for: id }, [input, " " + label])]);
  }

  function selectField(owner, name, path, label, choices, options) {
    options = options || {};
    var current = owner[name] === undefined ? "" : String(owner[name]);
    var list = choices.slice();
    if (current && !list.some(function (c) { return c[0] === current; })) {
      list.push([current, current]);
    }
    var select = h("select", {
      value: current,
      "data-focus": options.focus || null,
      onchange: function () {
        if (select.value === "" && options.optional) {
          delete owner[name];
        } else {
          owner[name] = select.value;
        }
        if (options.before) {
          options.before(select.value);
        }
        if (options.rerender) {
          rerender();
        } else {
          changed();
        }
      },
    }, list.map(function (c) { return h("option", { value: c[0], text: c[1] }); }));
    return field(label, select, path, options.fieldClass);
  }

  // Per-language text, one input per survey language side by side.
  function langText(owner, name, path, label, required, focus) {
    var languages = doc.languages || [];
    var inputs = [];
    var fieldset = h("fieldset", { class: "lang-text", "data-path": path });
    fieldset.appendChild(h("legend", { text: label + (required ? " *" : "") }));
    var grid = h("div", { class: "lang-grid" });
    function markMissing() {
      var any = inputs.some(function (pair) { return pair.input.value !== ""; });
      inputs.forEach(function (pair) {
        var missing = pair.input.value === "" && (required || any);
        pair.cell.classList.toggle("missing", missing);
        pair.note.hidden = !missing;
        if (missing) {
          pair.input.setAttribute("aria-describedby", pair.note.id);
        } else {
          pair.input.removeAttribute("aria-describedby");
        }
      });
    }
    languages.forEach(function (lang) {
      var id = newId("t");
      var note = h("span", { class: "missing-note", id: id + "-missing", text: T.missing });
      var existing = owner[name] && typeof owner[name][lang] === "string" ? owner[name][lang] : "";
      var input = h("input", {
        type: "text",
        id: id,
        lang: lang,
        value: existing,
        "data-path": join(path, lang),
        "data-focus": focus && lang === defaultLanguage() ? focus : null,
        oninput: function () {
          var text = owner[name] && typeof owner[name] === "object" ? owner[name] : {};
          if (input.value === "") {
            delete text[lang];
          } else {
            text[lang] = input.value;
          }
          if (Object.keys(text).length === 0 && !required) {
            delete owner[name];
          } else {
            owner[name] = text;
          }
          markMissing();
          changed();
        },
      });
      var cell = h("div", { class: "lang-cell" }, [
        h("label", { for: id }, [h("span", { class: "visually-hidden", text: label + " " }), lang]),
        input,
        note,
      ]);
      inputs.push({ input: input, cell: cell, note: note });
      grid.appendChild(cell);
    });
    fieldset.appendChild(grid);
    markMissing();
    return fieldset;
  }

  function iconButton(text, label, onclick, options) {
    options = options || {};
    return h("button", {
      type: "button",
      class: "small" + (options.danger ? " danger" : ""),
      "aria-label": label,
      disabled: options.disabled || null,
      "data-focus": options.focus || null,
      onclick: onclick,
    }, [text]);
  }

  // Up, down and delete for one item of a list.
  function itemTools(list, index, name, focusBase, onDelete) {
    return h("div", { class: "item-tools" }, [
      iconButton("↑", fmt(T.move_up_named, { name: name }), function () {
        move(list, index, -1);
        rerender(focusBase + ":up");
      }, { disabled: index === 0, focus: focusBase + ":up" }),
      iconButton("↓", fmt(T.move_down_named, { name: name }), function () {
        move(list, index, 1);
        rerender(focusBase + ":down");
      }, { disabled: index === list.length - 1, focus: focusBase + ":down" }),
      iconButton(T.delete, fmt(T.delete_named, { name: name }), function () {
        if (!window.confirm(fmt(T.confirm_delete, { name: name }))) {
          return;
        }
        list.splice(index, 1);
        rerender(onDelete);
      }, { danger: true, focus: focusBase + ":delete" }),
    ]);
  }

  // A collapsible card: a toggle button in the header, the body below.
  function card(object, title, tools, body, path, kind) {
    var bodyId = newId("body");
    var open = expanded.has(object);
    var toggle = h("button", {
      type: "button",
      class: "toggle",
      "aria-expanded": open ? "true" : "false",
      "aria-controls": bodyId,
      "data-focus": keyOf(object) + ":toggle",
      onclick: function () {
        var nowOpen = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", nowOpen ? "true" : "false");
        bodyEl.hidden = !nowOpen;
        if (nowOpen) {
          expanded.add(object);
        } else {
          expanded.delete(object);
        }
      },
    }, [title]);
    var bodyEl = h("div", { class: "card-body", id: bodyId }, body);
    bodyEl.hidden = !open;
    var item = h("li", { class: "item " + kind, "data-path": path, "data-card": "true" }, [
      h("div", { class: "item-head" }, [toggle, tools]),
      bodyEl,
    ]);
    cardObjects.set(item, object);
    return item;
  }

  // --- conditions ----------------------------------------------------------------------

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
      return (doc.embedded || []).map(function (e) { return [e.name, e.name]; });
    }
    return settings.contact_fields.map(function (name) { return [name, name]; });
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
    var sources = settings.sources;
    var ops = settings.ops;
    var parts = [
      selectField(row, "source", join(rowPath, "source"), T.source, sources, {
        rerender: true, focus: base + ":source", fieldClass: "short",
        before: function (source) {
          var first = fieldChoices(source)[0];
          row.field = first ? first[0] : "";
        },
      }),
      selectField(row, "field", join(rowPath, "field"), T.field, [["", "—"]].concat(fieldChoices(row.source)), {
        rerender: true, focus: base + ":field",
      }),
      selectField(row, "op", join(rowPath, "op"), T.op, ops, {
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
      parts.push(field(listed ? T.value_list : T.value, input, join(rowPath, "value")));
      parts.push(h("datalist", { id: listId }, choiceIdsOf(row.field).map(function (id) {
        return h("option", { value: id });
      })));
    } else {
      delete row.value;
    }
    parts.push(iconButton(T.delete, fmt(T.delete_named, { name: fmt(T.condition, { n: index + 1 }) }), function () {
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
      fieldset.appendChild(h("p", { class: "note", text: T.complex_condition }));
      fieldset.appendChild(h("pre", { class: "condition-json", text: pretty(owner[name]) }));
      return fieldset;
    }
    if (state.mode === "none" && modes.indexOf("none") === -1) {
      state.mode = "all";
    }
    var holder = { mode: state.mode };
    fieldset.appendChild(selectField(holder, "mode", join(path, "mode"), label, modes.map(function (m) {
      return [m, { none: T.always, all: T[keepEmpty ? "skip_all" : "when_all"], any: T[keepEmpty ? "skip_any" : "when_any"] }[m]];
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
      }, [T.add_condition]));
    }
    return fieldset;
  }

  function newComparison() {
    var questions = allQuestions();
    return { source: "answers", field: questions.length ? questions[0].question.id : "", op: "answered" };
  }

  // --- questions -------------------------------------------------------------------------

  function defaultsFor(type) {
    var blank = function () { return {}; };
    if (CHOICE_TYPES.indexOf(type) !== -1) {
      return { choices: [{ id: "c1", text: blank() }, { id: "c2", text: blank() }] };
    }
    if (type === "matrix") {
      return {
        rows: [{ id: "r1", text: blank() }],
        scale: [1, 2, 3, 4, 5].map(function (v) { return { value: v, text: blank() }; }),
      };
    }
    if (type === "rating") {
      return { points: 5 };
    }
    if (type === "text") {
      return { size: "short" };
    }
    if (type === "servqual") {
      return { dimension: "tangibles", points: 7 };
    }
    return {};
  }

  function changeType(question, old, type) {
    var keep = ["id", "text", "description", "required", "display_logic"];
    var bothChoice = CHOICE_TYPES.indexOf(old) !== -1 && CHOICE_TYPES.indexOf(type) !== -1;
    var bothScale = SCALE_TYPES.indexOf(old) !== -1 && SCALE_TYPES.indexOf(type) !== -1;
    if (bothChoice) {
      keep.push("choices", "randomize");
    }
    if (bothScale) {
      keep.push("low_label", "high_label");
    }
    Object.keys(question).forEach(function (key) {
      if (keep.indexOf(key) === -1) {
        delete question[key];
      }
    });
    question.type = type;
    var defaults = defaultsFor(type);
    Object.keys(defaults).forEach(function (key) {
      if (!(key in question)) {
        question[key] = defaults[key];
      }
    });
  }

  function optionList(question, listName, path, labels, withOther) {
    var items = question[listName] || [];
    var fieldset = h("fieldset", { class: "options", "data-path": join(path, listName) }, [
      h("legend", { text: labels.legend }),
    ]);
    var list = h("ol", { class: "option-list" });
    items.forEach(function (item, index) {
      var itemPath = join(join(path, listName), index);
      var name = fmt(labels.item, { n: index + 1 });
      var base = keyOf(item);
      var parts = [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(items, index, name, base, keyOf(question) + ":" + listName + ":add"),
        ]),
      ];
      if (listName === "scale") {
        parts.push(numberField(item, "value", join(itemPath, "value"), T.scale_value, { integer: true }));
      } else {
        parts.push(textField(item, "id", join(itemPath, "id"), labels.id, { keepEmpty: true, fieldClass: "short" }));
      }
      parts.push(langText(item, "text", join(itemPath, "text"), labels.text, true));
      if (withOther) {
        parts.push(checkField(item, "other", join(itemPath, "other"), T.other));
      }
      list.appendChild(h("li", { class: "option", "data-path": itemPath }, parts));
    });
    fieldset.appendChild(list);
    fieldset.appendChild(h("button", {
      type: "button",
      class: "small",
      "data-focus": keyOf(question) + ":" + listName + ":add",
      onclick: function () {
        question[listName] = items;
        var item;
        if (listName === "scale") {
          var values = items.map(function (p) { return p.value; });
          var next = values.length ? Math.max.apply(null, values) + 1 : 1;
          item = { value: next, text: {} };
        } else {
          item = { id: uniqueId(listName === "rows" ? "r" : "c", items.map(function (c) { return c.id; })), text: {} };
        }
        items.push(item);
        rerender(keyOf(question) + ":" + listName + ":add");
      },
    }, [labels.add]));
    return fieldset;
  }

  function typeFields(q, path) {
    var parts = [];
    var type = q.type;
    if (SCALE_TYPES.indexOf(type) !== -1) {
      if (type === "rating") {
        parts.push(numberField(q, "points", join(path, "points"), T.points, { integer: true, min: 2, max: 11 }));
      }
      parts.push(langText(q, "low_label", join(path, "low_label"), T.low_label, false));
      parts.push(langText(q, "high_label", join(path, "high_label"), T.high_label, false));
    }
    if (CHOICE_TYPES.indexOf(type) !== -1) {
      parts.push(optionList(q, "choices", path, {
        legend: T.choices, item: T.choice, id: T.choice_id, text: T.choice_text, add: T.add_choice,
      }, type !== "ranking"));
    }
    if (type === "multiple_choice") {
      parts.push(h("div", { class: "inline-fields" }, [
        numberField(q, "min_picks", join(path, "min_picks"), T.min_picks, { integer: true, min: 0 }),
        numberField(q, "max_picks", join(path, "max_picks"), T.max_picks, { integer: true, min: 1 }),
      ]));
    }
    if (type === "matrix") {
      parts.push(optionList(q, "rows", path, {
        legend: T.rows, item: T.row, id: T.row_id, text: T.row_text, add: T.add_row,
      }, false));
      parts.push(optionList(q, "scale", path, {
        legend: T.scale, item: T.scale_point, text: T.scale_text, add: T.add_scale_point,
      }, false));
    }
    if (CHOICE_TYPES.indexOf(type) !== -1 || type === "matrix") {
      parts.push(checkField(q, "randomize", join(path, "randomize"), T.randomize));
    }
    if (type === "text") {
      parts.push(selectField(q, "size", join(path, "size"), T.size, [["short", T.size_short], ["long", T.size_long]]));
      parts.push(textField(q, "pattern", join(path, "pattern"), T.pattern, { spellcheck: false }));
      parts.push(numberField(q, "max_length", join(path, "max_length"), T.max_length, { integer: true, min: 1, max: 20000 }));
      parts.push(langText(q, "placeholder", join(path, "placeholder"), T.placeholder, false));
    }
    if (type === "number") {
      parts.push(h("div", { class: "inline-fields" }, [
        numberField(q, "min", join(path, "min"), T.min, {}),
        numberField(q, "max", join(path, "max"), T.max, {}),
      ]));
      parts.push(checkField(q, "integer", join(path, "integer"), T.integer));
    }
    if (type === "date") {
      parts.push(h("div", { class: "inline-fields" }, [
        textField(q, "min", join(path, "min"), T.min, { type: "date", fieldClass: "short" }),
        textField(q, "max", join(path, "max"), T.max, { type: "date", fieldClass: "short" }),
      ]));
    }
    if (type === "servqual") {
      var dimensions = settings.dimensions;
      parts.push(selectField(q, "dimension", join(path, "dimension"), T.dimension, dimensions));
      parts.push(numberField(q, "points", join(path, "points"), T.points, { integer: true, min: 3, max: 10 }));
      parts.push(langText(q, "expectation_label", join(path, "expectation_label"), T.expectation_label, false));
      parts.push(langText(q, "perception_label", join(path, "perception_label"), T.perception_label, false));
    }
    return parts;
  }

  function questionCard(page, pageIndex, index) {
    var list = page.questions;
    var q = list[index];
    var path = join(join(join("pages", pageIndex), "questions"), index);
    var name = fmt(T.question, { n: index + 1 });
    var typeLabel = labelOf(settings.question_types, q.type);
    var title = name + " · " + typeLabel + " · " + (q.id || "") + (textIn(q.text) ? " · " + shorten(textIn(q.text), 40) : "");
    var base = keyOf(q);
    var types = settings.question_types;
    var oldType = q.type;
    var typeSelect = selectField(q, "type", join(path, "type"), T.question_type, types, { focus: base + ":type" });
    typeSelect.querySelector("select").addEventListener("change", function (event) {
      changeType(q, oldType, event.target.value);
      rerender(base + ":type");
    });
    var body = [
      h("div", { class: "inline-fields" }, [
        textField(q, "id", join(path, "id"), T.question_id, { keepEmpty: true, spellcheck: false, focus: base + ":id", fieldClass: "short" }),
        typeSelect,
      ]),
      langText(q, "text", join(path, "text"), T.question_text, true, base + ":text"),
      langText(q, "description", join(path, "description"), T.description, false),
      checkField(q, "required", join(path, "required"), T.required, base + ":required"),
    ].concat(typeFields(q, path));
    if (pageIndex > 0) {
      body.push(conditionEditor(q, "display_logic", join(path, "display_logic"), T.display_logic, ["none", "all", "any"], false));
    }
    var tools = itemTools(list, index, name, base, keyOf(page) + ":add-question");
    return card(q, title, tools, body, path, "question");
  }

  // --- pages ------------------------------------------------------------------------------

  function skipRules(page, pageIndex) {
    var path = join(join("pages", pageIndex), "skip_logic");
    var rules = page.skip_logic || [];
    var fieldset = h("fieldset", { class: "skip-logic", "data-path": path }, [h("legend", { text: T.skip_logic })]);
    if (!rules.length) {
      fieldset.appendChild(h("p", { class: "note", text: T.no_rules }));
    }
    var targets = (doc.pages || []).slice(pageIndex + 1).map(function (p, i) {
      return [p.id, fmt(T.page, { n: pageIndex + i + 2 }) + " · " + p.id];
    }).concat([["end", T.end]]);
    var list = h("ol", { class: "rules" });
    rules.forEach(function (rule, index) {
      var rulePath = join(path, index);
      var name = fmt(T.rule, { n: index + 1 });
      list.appendChild(h("li", { class: "rule", "data-path": rulePath }, [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(rules, index, name, keyOf(rule), keyOf(page) + ":add-rule"),
        ]),
        conditionEditor(rule, "when", join(rulePath, "when"), T.when, ["all", "any"], true),
        selectField(rule, "to", join(rulePath, "to"), T.skip_to, targets),
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
    }, [T.add_rule]));
    return fieldset;
  }

  function addQuestionRow(page) {
    var select = h("select", { "data-focus": keyOf(page) + ":new-type" }, settings.question_types.map(function (pair) {
      return h("option", { value: pair[0], text: pair[1] });
    }));
    var button = h("button", {
      type: "button",
      "data-focus": keyOf(page) + ":add-question",
      onclick: function () {
        var taken = allQuestions().map(function (item) { return item.question.id; });
        var question = { id: uniqueId("q", taken), type: select.value, text: {} };
        var defaults = defaultsFor(select.value);
        Object.keys(defaults).forEach(function (k) { question[k] = defaults[k]; });
        page.questions = page.questions || [];
        page.questions.push(question);
        expanded.add(question);
        rerender(keyOf(question) + ":text");
      },
    }, [T.add_question]);
    return h("div", { class: "add-question" }, [field(T.question_type, select, null, "short"), button]);
  }

  function pageCard(index) {
    var page = doc.pages[index];
    var path = join("pages", index);
    var name = fmt(T.page, { n: index + 1 });
    var title = name + " · " + (page.id || "") + (page.title ? " · " + shorten(textIn(page.title), 40) : "");
    var questions = h("ol", { class: "questions" });
    (page.questions || []).forEach(function (_, qi) {
      questions.appendChild(questionCard(page, index, qi));
    });
    var body = [
      textField(page, "id", join(path, "id"), T.page_id, { keepEmpty: true, spellcheck: false, fieldClass: "short" }),
      langText(page, "title", join(path, "title"), T.page_title, false),
    ];
    if (index > 0) {
      body.push(conditionEditor(page, "display_logic", join(path, "display_logic"), T.display_logic, ["none", "all", "any"], false));
    }
    if (!(page.questions || []).length) {
      body.push(h("p", { class: "note", text: T.no_questions }));
    }
    body.push(questions, addQuestionRow(page), skipRules(page, index));
    var tools = itemTools(doc.pages, index, name, keyOf(page), "add-page");
    return card(page, title, tools, body, path, "page");
  }

  // --- survey-level sections -----------------------------------------------------------------

  function stripLanguage(value, lang) {
    if (Array.isArray(value)) {
      value.forEach(function (child) { stripLanguage(child, lang); });
    } else if (value && typeof value === "object") {
      Object.keys(value).forEach(function (key) {
        var child = value[key];
        if (LANG_KEYS.indexOf(key) !== -1 && child && typeof child === "object" && !Array.isArray(child) && lang in child) {
          delete child[lang];
        }
        stripLanguage(child, lang);
      });
    }
  }

  function languageSection() {
    var languages = doc.languages = doc.languages || [];
    var list = h("ul", { class: "language-list", "data-path": "languages" });
    languages.forEach(function (lang, index) {
      list.appendChild(h("li", { "data-path": join("languages", index) }, [
        h("span", { lang: lang, text: lang }),
        languages.length > 1 ? iconButton("×", fmt(T.remove_language, { lang: lang }), function () {
          if (!window.confirm(fmt(T.confirm_delete, { name: lang }))) {
            return;
          }
          languages.splice(index, 1);
          stripLanguage(doc, lang);
          if (doc.default_language === lang) {
            doc.default_language = languages[0];
          }
          rerender("add-language");
        }, { danger: true }) : null,
      ]));
    });
    var input = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    var problem = h("p", { class: "field-error", hidden: true, id: newId("lang-error") });
    var add = h("button", {
      type: "button",
      class: "small",
      "data-focus": "add-language",
      onclick: function () {
        var tag = input.value.trim();
        if (!LANGUAGE_PATTERN.test(tag) || languages.indexOf(tag) !== -1) {
          problem.textContent = T.language_tag;
          problem.hidden = false;
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", problem.id);
          input.focus();
          return;
        }
        languages.push(tag);
        rerender("add-language");
      },
    }, [T.add_language]);
    return h("fieldset", { class: "languages" }, [
      h("legend", { text: T.languages }),
      list,
      h("div", { class: "add-language" }, [field(T.language_tag, input, null, "short"), add]),
      problem,
      selectField(doc, "default_language", "default_language", T.default_language, languages.map(function (l) {
        return [l, l];
      }), { rerender: true, fieldClass: "short" }),
    ]);
  }

  function embeddedSection() {
    var items = doc.embedded = doc.embedded || [];
    var list = h("ol", { class: "option-list", "data-path": "embedded" });
    items.forEach(function (item, index) {
      var path = join("embedded", index);
      var name = fmt(T.embedded_field, { n: index + 1 });
      list.appendChild(h("li", { class: "option", "data-path": path }, [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(items, index, name, keyOf(item), "add-embedded"),
        ]),
        h("div", { class: "inline-fields" }, [
          textField(item, "name", join(path, "name"), T.embedded_name, { keepEmpty: true, spellcheck: false, fieldClass: "short" }),
          textField(item, "default", join(path, "default"), T.embedded_default, {}),
        ]),
      ]));
    });
    return section(T.embedded, [
      h("p", { class: "note", text: T.embedded_help }),
      list,
      h("button", {
        type: "button",
        class: "small",
        "data-focus": "add-embedded",
        onclick: function () {
          items.push({ name: uniqueId("field", items.map(function (e) { return e.name; })) });
          rerender("add-embedded");
        },
      }, [T.add_embedded]),
    ]);
  }

  function themeSection() {
    var theme = doc.theme = doc.theme || {};
    var text = h("input", { type: "text", value: theme.color || "", autocomplete: "off", spellcheck: "false" });
    var picker = h("input", { type: "color", value: /^#[0-9A-Fa-f]{6}$/.test(theme.color || "") ? theme.color : "#0b5fcc" });
    text.addEventListener("input", function () {
      if (text.value === "") {
        delete theme.color;
      } else {
        theme.color = text.value;
      }
      if (/^#[0-9A-Fa-f]{6}$/.test(text.value)) {
        picker.value = text.value;
      }
      changed();
    });
    picker.addEventListener("input", function () {
      theme.color = picker.value;
      text.value = picker.value;
      changed();
    });
    return section(T.theme, [
      h("div", { class: "inline-fields" }, [
        field(T.color, text, "theme.color", "short"),
        field(T.color_picker, picker, null, "short"),
      ]),
      textField(theme, "logo_url", "theme.logo_url", T.logo_url, { spellcheck: false }),
    ]);
  }

  function thankYouSection() {
    var items = doc.thank_you = doc.thank_you || [];
    var outcomes = settings.outcomes;
    var list = h("ol", { class: "option-list", "data-path": "thank_you" });
    items.forEach(function (item, index) {
      var path = join("thank_you", index);
      var name = fmt(T.thank_you_n, { n: index + 1 });
      list.appendChild(h("li", { class: "option", "data-path": path }, [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(items, index, name, keyOf(item), "add-thank-you"),
        ]),
        selectField(item, "outcome", join(path, "outcome"), T.outcome, outcomes, { fieldClass: "short" }),
        langText(item, "message", join(path, "message"), T.message, true),
      ]));
    });
    return section(T.thank_you, [
      list,
      h("button", {
        type: "button",
        class: "small",
        "data-focus": "add-thank-you",
        onclick: function () {
          var used = items.map(function (t) { return t.outcome || "default"; });
          var free = settings.outcomes.map(function (pair) { return pair[0]; })
            .filter(function (o) { return used.indexOf(o) === -1; })[0];
          items.push({ outcome: free || "default", message: {} });
          rerender("add-thank-you");
        },
      }, [T.add_thank_you]),
      textField(doc, "redirect_url", "redirect_url", T.redirect_url, { type: "url", spellcheck: false }),
    ]);
  }

  function section(title, children) {
    var id = newId("h");
    return h("section", { class: "editor-section", "aria-labelledby": id }, [h("h3", { id: id, text: title })].concat(children));
  }

  function render() {
    idCount = 0;
    var pages = h("ol", { class: "pages" });
    (doc.pages || []).forEach(function (_, index) {
      pages.appendChild(pageCard(index));
    });
    var survey = section(T.survey, [
      langText(doc, "title", "title", T.title, true, "survey-title"),
      langText(doc, "description", "description", T.description, false),
      languageSection(),
    ]);
    var pageSection = section(T.pages, [
      pages,
      h("button", {
        type: "button",
        "data-focus": "add-page",
        onclick: function () {
          doc.pages = doc.pages || [];
          var page = { id: uniqueId("p", doc.pages.map(function (p) { return p.id; })), questions: [] };
          doc.pages.push(page);
          expanded.add(page);
          rerender(keyOf(page) + ":toggle");
        },
      }, [T.add_page]),
    ]);
    pageSection.dataset.path = "pages";
    root.replaceChildren(survey, pageSection, embeddedSection(), themeSection(), thankYouSection());
    showErrors(lastErrors, false);
  }

  // --- errors -----------------------------------------------------------------------------

  function clearErrors() {
    document.querySelectorAll(".js-error").forEach(function (el) { el.remove(); });
    document.querySelectorAll("[data-js-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("data-js-invalid");
      var described = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id.indexOf("err-") !== 0;
      });
      if (described.length) {
        el.setAttribute("aria-describedby", described.join(" "));
      } else {
        el.removeAttribute("aria-describedby");
      }
    });
    summaryBox.replaceChildren();
    summaryBox.hidden = true;
  }

  function parentPath(path) {
    var cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    return cut > 0 ? path.slice(0, cut) : "";
  }

  function targetFor(path) {
    var current = path;
    while (current) {
      var found = root.querySelector('[data-path="' + CSS.escape(current) + '"]');
      if (found) {
        return found;
      }
      current = parentPath(current);
    }
    return null;
  }

  function reveal(el) {
    var cardEl = el.closest("[data-card]");
    while (cardEl) {
      var toggle = cardEl.querySelector(":scope > .item-head > .toggle");
      var body = cardEl.querySelector(":scope > .card-body");
      if (body && body.hidden) {
        body.hidden = false;
        toggle.setAttribute("aria-expanded", "true");
      }
      if (cardObjects.has(cardEl)) {
        expanded.add(cardObjects.get(cardEl));
      }
      cardEl = cardEl.parentElement ? cardEl.parentElement.closest("[data-card]") : null;
    }
  }

  function focusable(el) {
    if (/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName)) {
      return el;
    }
    return el.querySelector("input, select, textarea, button");
  }

  function showErrors(errors, announce) {
    clearErrors();
    lastErrors = errors;
    renderJsonErrors(errors);
    if (!errors.length) {
      return;
    }
    var list = h("ul", { class: "error-list" });
    errors.forEach(function (error, index) {
      var id = "err-" + index;
      var target = view === "structured" ? targetFor(error.path) : null;
      var message = h("p", { class: "field-error js-error", id: id }, [h("code", { text: error.path }), ": " + error.message]);
      if (target) {
        reveal(target);
        var control = /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) ? target : null;
        if (control) {
          control.setAttribute("aria-invalid", "true");
          control.setAttribute("data-js-invalid", "true");
          control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + id).trim());
          var holder = control.closest(".lang-cell, .field") || control.parentElement;
          holder.appendChild(message);
        } else {
          var heading = target.querySelector(":scope > legend, :scope > .item-head, :scope > .option-head");
          if (heading) {
            heading.after(message);
          } else {
            target.prepend(message);
          }
        }
      }
      list.appendChild(h("li", {}, [h("button", {
        type: "button",
        class: "link-button",
        onclick: function () {
          if (view !== "structured") {
            textarea.focus();
            return;
          }
          var el = targetFor(error.path);
          if (el) {
            reveal(el);
            var control = focusable(el);
            (control || el).focus();
          }
        },
      }, [h("code", { text: error.path }), ": " + error.message])]));
    });
    summaryBox.appendChild(h("p", { class: "field-error", text: fmt(T.errors_found, { n: errors.length }) }));
    summaryBox.appendChild(list);
    summaryBox.hidden = false;
    if (announce) {
      summaryBox.focus();
    }
  }

  function renderJsonErrors(errors) {
    var box = document.getElementById("json-errors");
    box.replaceChildren();
    if (errors.length) {
      box.appendChild(h("ul", { class: "error-list", "data-testid": "errors" }, errors.map(function (e) {
        return h("li", { "data-path": e.path }, [h("code", { text: e.path }), ": " + e.message]);
      })));
      textarea.setAttribute("aria-invalid", "true");
      var described = (textarea.getAttribute("aria-describedby") || "").split(" ");
      if (described.indexOf("json-errors") === -1) {
        textarea.setAttribute("aria-describedby", described.concat(["json-errors"]).join(" ").trim());
      }
    } else {
      textarea.removeAttribute("aria-invalid");
    }
  }

  // --- views, saving, preview -------------------------------------------------------------------

  function showView(next) {
    if (next === view) {
      return true;
    }
    if (next === "json") {
      textarea.value = pretty(doc);
    } else {
      try {
        doc = JSON.parse(textarea.value);
      } catch (e) {
        statusBox.textContent = T.bad_json;
        return false;
      }
      if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
        statusBox.textContent = T.bad_json;
        return false;
      }
    }
    view = next;
    root.hidden = view !== "structured";
    jsonView.hidden = view !== "json";
    document.querySelectorAll("[data-view]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.view === view ? "true" : "false");
    });
    if (view === "structured") {
      render();
    } else {
      showErrors(lastErrors, false);
    }
    return true;
  }

  function refreshPreview() {
    var frame = document.getElementById("preview-frame");
    if (!frame) {
      return;
    }
    var lang = document.getElementById("preview-lang").value;
    var pageNumber = document.getElementById("preview-page").value || "1";
    frame.src = "/surveys/" + encodeURIComponent(form.dataset.survey) + "/preview?lang=" +
      encodeURIComponent(lang) + "&page=" + encodeURIComponent(pageNumber);
  }

  function syncPreviewChoices() {
    var langSelect = document.getElementById("preview-lang");
    var pageSelect = document.getElementById("preview-page");
    var lang = langSelect.value;
    var pageNumber = pageSelect.value;
    langSelect.replaceChildren.apply(langSelect, (doc.languages || []).map(function (l) {
      return h("option", { value: l, lang: l, text: l });
    }));
    if ((doc.languages || []).indexOf(lang) !== -1) {
      langSelect.value = lang;
    }
    pageSelect.replaceChildren.apply(pageSelect, (doc.pages || []).map(function (_, i) {
      return h("option", { value: String(i + 1), text: String(i + 1) });
    }));
    if (Number(pageNumber) <= (doc.pages || []).length) {
      pageSelect.value = pageNumber;
    }
  }

  function save(event) {
    event.preventDefault();
    if (view === "structured") {
      textarea.value = pretty(doc);
    }
    var button = document.getElementById("save-button");
    button.disabled = true;
    statusBox.textContent = T.saving;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }).then(function (result) {
      button.disabled = false;
      var body = result.body || {};
      // A lapsed session redirects to the sign-in page, which is no answer to a save.
      if (result.status === 200 && typeof body.version === "number") {
        if (view === "json") {
          doc = JSON.parse(textarea.value);
        }
        showErrors([], false);
        setDirty(false);
        statusBox.textContent = body.message || T.saved;
        updateHeader(body);
        syncPreviewChoices();
        refreshPreview();
      } else if (result.status === 422 && Array.isArray(body.errors)) {
        statusBox.textContent = fmt(T.errors_found, { n: body.errors.length });
        showErrors(body.errors, true);
      } else {
        statusBox.textContent = body.detail || T.save_failed;
      }
    }).catch(function () {
      button.disabled = false;
      statusBox.textContent = T.save_failed;
    });
  }

  function updateHeader(body) {
    var status = document.querySelector("[data-testid=status]");
    var version = document.querySelector("[data-testid=version]");
    var note = document.getElementById("version-note");
    var publish = document.getElementById("publish-form");
    var title = document.getElementById("survey-title");
    if (status && body.status) {
      status.textContent = body.status_label;
      status.className = "status status-" + body.status;
    }
    if (version && body.version) {
      version.textContent = version.textContent.replace(/\d+/, String(body.version));
    }
    if (note && body.version_note) {
      note.textContent = body.version_note;
    }
    if (publish) {
      publish.hidden = !body.can_publish;
    }
    if (title) {
      var pageLang = document.documentElement.lang;
      title.textContent = (doc.title && doc.title[pageLang]) || textIn(doc.title) || title.textContent;
    }
  }

  function viewSwitch() {
    var bar = h("div", { class: "view-switch", role: "group", "aria-label": T.structured + " / " + T.json });
    [["structured", T.structured], ["json", T.json]].forEach(function (pair) {
      bar.appendChild(h("button", {
        type: "button",
        "data-view": pair[0],
        "aria-pressed": pair[0] === view ? "true" : "false",
        onclick: function () { showView(pair[0]); },
      }, [pair[1]]));
    });
    return bar;
  }

  function start() {
    form = document.getElementById("editor-form");
    textarea = document.getElementById("definition");
    root = document.getElementById("structured");
    jsonView = document.getElementById("json-view");
    statusBox = document.getElementById("save-status");
    var settingsEl = document.getElementById("editor-settings");
    if (!form || !textarea || !root || !settingsEl || textarea.readOnly || !statusBox) {
      return;
    }
    settings = JSON.parse(settingsEl.textContent);
    T = settings.texts;
    try {
      doc = JSON.parse(textarea.value);
    } catch (e) {
      return; // an unparsable submission came back with its errors: stay in the JSON view
    }
    var note = document.getElementById("publish-note");
    if (note) {
      note.dataset.text = note.textContent;
    }
    summaryBox = h("div", { class: "error-summary", tabindex: "-1", role: "alert", hidden: true });
    form.prepend(viewSwitch(), summaryBox);
    root.hidden = false;
    jsonView.hidden = true;
    textarea.addEventListener("input", changed);
    form.addEventListener("submit", save);
    var errorsEl = document.getElementById("editor-errors");
    lastErrors = errorsEl ? JSON.parse(errorsEl.textContent) : [];
    render();
    ["preview-lang", "preview-page"].forEach(function (id) {
      var select = document.getElementById(id);
      if (select) {
        select.addEventListener("change", refreshPreview);
      }
    });
    var show = document.getElementById("preview-show");
    if (show) {
      show.hidden = true;
    }
    window.addEventListener("beforeunload", function (event) {
      if (dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    form.dataset.ready = "true";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
