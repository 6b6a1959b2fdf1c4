// Sign-In with Ethereum through the browser wallet (EIP-1193): the only calls are
// window.ethereum.request({method: ...}), so a test can inject a wallet of its own.
(() => {
  "use strict";
  const button = document.getElementById("siwe-connect");
  const form = document.getElementById("siwe-form");
  const status = document.getElementById("siwe-status");
  if (!button || !form || !status) return;

  const say = (text, isError) => {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  };
  // personal_sign takes the message as hex of its UTF-8 bytes.
  const toHex = (text) =>
    "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

  document.getElementById("siwe-needs-js")?.setAttribute("hidden", "");
  button.hidden = false;
  button.addEventListener("click", async () => {
    if (!window.ethereum || typeof window.ethereum.request !== "function") {
      say("No browser wallet found. Install one, or use the command below.", true);
      return;
    }
    button.disabled = true;
    try {
      say("Asking your wallet for the account…");
      const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
      if (!accounts || accounts.length === 0) throw new Error("the wallet shared no account");
      const address = accounts[0];
      say("Getting a sign-in message for " + address + "…");
      const url = button.dataset.messageUrl + "?address=" + encodeURIComponent(address);
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.detail || "the site answered " + response.status);
      say("Sign the message in your wallet…");
      const signature = await window.ethereum.request({
        method: "personal_sign",
        params: [toHex(body.message), address],
      });
      form.elements.message.value = body.message;
      form.elements.signature.value = signature;
      say("Signing in…");
      form.submit();
    } catch (error) {
      say("Sign-in failed: " + (error && error.message ? error.message : String(error)), true);
      button.disabled = false;
    }
  });
})();
