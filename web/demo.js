// Host-page integration example: identify a known visitor, open from a button.
const ready = () => {
  const params = new URLSearchParams(location.search);
  if (params.get('email')) window.LiveChat.identify({ email: params.get('email'), ...(params.get('name') ? { first_name: params.get('name') } : {}) });
  document.getElementById('talk').addEventListener('click', () => window.LiveChat.open());
};
if (window.LiveChat) ready(); else window.addEventListener('livechat:ready', ready, { once: true });
