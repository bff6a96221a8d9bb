// Keyboard shortcuts for labeling without the mouse. Keys typed into a form field belong
// to that field; the query box handles its own Enter.

const ARROWS = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/** Whether a key event's target is a form field (its keys are its own, not the page's shortcuts). */
export function typingIn(target) {
  return target instanceof Element && (target.isContentEditable || target.matches("input, textarea, select"));
}

/**
 * actions: {confirm, undo, toggleHelp, moveFocus(dx, dy), toggleFocused, toggleIndex(i)}
 */
export function bindKeys(actions) {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (typingIn(e.target)) return;
    // A focused button or link answers Enter/Space itself (keyboard users tab to them).
    const onControl = e.target instanceof Element && e.target.matches("button, a[href], summary");

    const key = e.key;
    if ((key === "Enter" || key === " ") && !onControl) {
      if (e.repeat) return e.preventDefault(); // a held key must not submit page after page
      e.preventDefault();
      actions.confirm();
    } else if (ARROWS[key]) {
      e.preventDefault(); // no page scroll: the focus ring scrolls into view itself
      actions.moveFocus(...ARROWS[key]);
    } else if (key === "x" || key === "X" || key === "f" || key === "F") {
      e.preventDefault();
      actions.toggleFocused();
    } else if (/^[1-9]$/.test(key)) {
      e.preventDefault();
      actions.toggleIndex(Number(key) - 1);
    } else if ((key === "u" || key === "U") && !e.repeat) {
      e.preventDefault();
      actions.undo();
    } else if (key === "?") {
      e.preventDefault();
      actions.toggleHelp();
    } else if (key === "Escape") {
      actions.closeHelp?.();
    }
  });
}
