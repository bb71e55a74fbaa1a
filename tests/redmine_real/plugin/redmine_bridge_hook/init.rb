# Test-only: posts redmine_webhook-shaped deliveries to REDMINE_BRIDGE_HOOK_URL (see SOURCES.md).
Redmine::Plugin.register :redmine_bridge_hook do
  name 'ticket-bridge test hook'
  description 'Posts {"payload": {...}} to REDMINE_BRIDGE_HOOK_URL after an issue is created or updated'
  version '1.0.0'
  requires_redmine version_or_higher: '5.0.0'
end

RedmineBridgeHook::Listener # loads the listener, which registers itself
