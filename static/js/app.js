// Small behaviours every page may use. A static file, because the CSP allows no inline script.

// <form data-confirm="…">: ask before submitting (e.g. revoking an API key).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// <button data-copy-target="input-id">: copy that input's value to the clipboard.
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy-target]") : null;
  if (!button) return;
  const input = document.getElementById(button.dataset.copyTarget);
  const status = button.parentElement?.querySelector("[data-copy-status]");
  if (!input) return;
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    // no clipboard API (plain http, old browser): fall back to selecting the text
    input.select();
    copied = document.execCommand?.("copy") ?? false;
  }
  if (status) status.textContent = copied ? "Copied." : "Select the key and copy it by hand.";
});

// Flash messages ("Swarm created; Claude is planning it."): each can be closed, and good news goes
// away by itself after a few seconds. Errors and warnings stay until closed.
const MESSAGE_SECONDS = 6;
for (const message of document.querySelectorAll(".messages .message")) {
  const close = document.createElement("button");
  close.type = "button";
  close.className = "message-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => dismiss(message));
  message.append(close);
  if (message.matches(".message-success, .message-info")) setTimeout(() => dismiss(message), MESSAGE_SECONDS * 1000);
}

function dismiss(message) {
  const list = message.parentElement;
  message.remove();
  if (list && !list.children.length) list.remove();
}
