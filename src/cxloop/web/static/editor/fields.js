// The survey editor, part 2 of 4: form controls bound to one key of an
// object of the document (per-language text boxes side by side, the fields
// of each question type, item tools to reorder and delete).
(function (E) {
  "use strict";

  var S = E.state;
  var changed = E.changed, defaultLanguage = E.defaultLanguage, fmt = E.fmt, h = E.h, join = E.join,
    keyOf = E.keyOf, move = E.move, newId = E.newId, rerender = E.rerender, uniqueId = E.uniqueId,
    CHOICE_TYPES = E.CHOICE_TYPES, SCALE_TYPES = E.SCALE_TYPES;

  // --- field builders ----------------------------------------------------------------------

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
    var languages = S.doc.languages || [];
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
      var note = h("span", { class: "missing-note", id: id + "-missing", text: S.T.missing });
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
      iconButton("↑", fmt(S.T.move_up_named, { name: name }), function () {
        move(list, index, -1);
        rerender(focusBase + ":up");
      }, { disabled: index === 0, focus: focusBase + ":up" }),
      iconButton("↓", fmt(S.T.move_down_named, { name: name }), function () {
        move(list, index, 1);
        rerender(focusBase + ":down");
      }, { disabled: index === list.length - 1, focus: focusBase + ":down" }),
      iconButton(S.T.delete, fmt(S.T.delete_named, { name: name }), function () {
        if (!window.confirm(fmt(S.T.confirm_delete, { name: name }))) {
          return;
        }
        list.splice(index, 1);
        rerender(onDelete);
      }, { danger: true, focus: focusBase + ":delete" }),
    ]);
  }

  // --- per-type question fields ------------------------------------------------------------

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
        parts.push(numberField(item, "value", join(itemPath, "value"), S.T.scale_value, { integer: true }));
      } else {
        parts.push(textField(item, "id", join(itemPath, "id"), labels.id, { keepEmpty: true, fieldClass: "short" }));
      }
      parts.push(langText(item, "text", join(itemPath, "text"), labels.text, true));
      if (withOther) {
        parts.push(checkField(item, "other", join(itemPath, "other"), S.T.other));
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
        parts.push(numberField(q, "points", join(path, "points"), S.T.points, { integer: true, min: 2, max: 11 }));
      }
      parts.push(langText(q, "low_label", join(path, "low_label"), S.T.low_label, false));
      parts.push(langText(q, "high_label", join(path, "high_label"), S.T.high_label, false));
    }
    if (CHOICE_TYPES.indexOf(type) !== -1) {
      parts.push(optionList(q, "choices", path, {
        legend: S.T.choices, item: S.T.choice, id: S.T.choice_id, text: S.T.choice_text, add: S.T.add_choice,
      }, type !== "ranking"));
    }
    if (type === "multiple_choice") {
      parts.push(h("div", { class: "inline-fields" }, [
        numberField(q, "min_picks", join(path, "min_picks"), S.T.min_picks, { integer: true, min: 0 }),
        numberField(q, "max_picks", join(path, "max_picks"), S.T.max_picks, { integer: true, min: 1 }),
      ]));
    }
    if (type === "matrix") {
      parts.push(optionList(q, "rows", path, {
        legend: S.T.rows, item: S.T.row, id: S.T.row_id, text: S.T.row_text, add: S.T.add_row,
      }, false));
      parts.push(optionList(q, "scale", path, {
        legend: S.T.scale, item: S.T.scale_point, text: S.T.scale_text, add: S.T.add_scale_point,
      }, false));
    }
    if (CHOICE_TYPES.indexOf(type) !== -1 || type === "matrix") {
      parts.push(checkField(q, "randomize", join(path, "randomize"), S.T.randomize));
    }
    if (type === "text") {
      parts.push(selectField(q, "size", join(path, "size"), S.T.size, [["short", S.T.size_short], ["long", S.T.size_long]]));
      parts.push(textField(q, "pattern", join(path, "pattern"), S.T.pattern, { spellcheck: false }));
      parts.push(numberField(q, "max_length", join(path, "max_length"), S.T.max_length, { integer: true, min: 1, max: 20000 }));
      parts.push(langText(q, "placeholder", join(path, "placeholder"), S.T.placeholder, false));
    }
    if (type === "number") {
      parts.push(h("div", { class: "inline-fields" }, [
        numberField(q, "min", join(path, "min"), S.T.min, {}),
        numberField(q, "max", join(path, "max"), S.T.max, {}),
      ]));
      parts.push(checkField(q, "integer", join(path, "integer"), S.T.integer));
    }
    if (type === "date") {
      parts.push(h("div", { class: "inline-fields" }, [
        textField(q, "min", join(path, "min"), S.T.min, { type: "date", fieldClass: "short" }),
        textField(q, "max", join(path, "max"), S.T.max, { type: "date", fieldClass: "short" }),
      ]));
    }
    if (type === "servqual") {
      var dimensions = S.settings.dimensions;
      parts.push(selectField(q, "dimension", join(path, "dimension"), S.T.dimension, dimensions));
      parts.push(numberField(q, "points", join(path, "points"), S.T.points, { integer: true, min: 3, max: 10 }));
      parts.push(langText(q, "expectation_label", join(path, "expectation_label"), S.T.expectation_label, false));
      parts.push(langText(q, "perception_label", join(path, "perception_label"), S.T.perception_label, false));
    }
    return parts;
  }

  Object.assign(E, { checkField: checkField, field: field, iconButton: iconButton, itemTools: itemTools,
    langText: langText, selectField: selectField, textField: textField, typeFields: typeFields });
})(window.cxloopEditor);
