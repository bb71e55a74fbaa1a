require 'net/http'

module RedmineBridgeHook
  # After the issues controller saves an issue (web form or REST API), posts what the
  # redmine_webhook plugin posts, with its field names, to the URL in REDMINE_BRIDGE_HOOK_URL,
  # from a thread of its own. Unset: sends nothing. A request carrying X-Skip-Webhooks sends
  # nothing either, as with that plugin. Its own failures are logged, never the request's.
  class Listener < Redmine::Hook::Listener
    include GravatarHelper::PublicMethods
    include ERB::Util

    def controller_issues_new_after_save(context = {})
      deliver(context) { { action: 'opened', issue: issue(context[:issue]), url: url(context) } }
    end

    def controller_issues_edit_after_save(context = {})
      deliver(context) do
        { action: 'updated', issue: issue(context[:issue]), journal: journal(context[:journal]), url: url(context) }
      end
    end

    private

    def deliver(context)
      target = ENV['REDMINE_BRIDGE_HOOK_URL'].presence
      request = context[:request]
      return if target.nil? || request.nil? || request.headers['X-Skip-Webhooks']

      body = begin
        { payload: yield }.to_json
      rescue StandardError => e
        Rails.logger.error("redmine_bridge_hook: #{e.class}: #{e.message}")
        return
      end
      Thread.start do
        uri = URI(target)
        Net::HTTP.post(uri, body, 'Content-Type' => 'application/json')
      rescue StandardError => e
        Rails.logger.error("redmine_bridge_hook: #{e.class}: #{e.message}")
      end
    end

    def url(context)
      context[:controller].issue_url(context[:issue])
    end

    def issue(i)
      {
        id: i.id, subject: i.subject, description: i.description,
        created_on: i.created_on, updated_on: i.updated_on, closed_on: i.closed_on,
        root_id: i.root_id, parent_id: i.parent_id, done_ratio: i.done_ratio,
        start_date: i.start_date, due_date: i.due_date, estimated_hours: i.estimated_hours,
        is_private: i.is_private, lock_version: i.lock_version,
        custom_field_values: i.custom_field_values.map do |v|
          { custom_field_id: v.custom_field_id, custom_field_name: v.custom_field.name, value: v.value }
        end,
        project: { id: i.project.id, identifier: i.project.identifier, name: i.project.name,
                   description: i.project.description, created_on: i.project.created_on,
                   homepage: i.project.homepage },
        status: named(i.status), tracker: named(i.tracker), priority: named(i.priority),
        author: person(i.author), assignee: person(i.assigned_to),
        watchers: i.watcher_users.map { |u| person(u) }
      }
    end

    def journal(j)
      return nil if j.nil?

      {
        id: j.id, notes: j.notes, created_on: j.created_on, private_notes: j.private_notes,
        author: person(j.user),
        details: j.details.map do |d|
          { id: d.id, value: d.value, old_value: d.old_value, prop_key: d.prop_key, property: d.property }
        end
      }
    end

    def named(record)
      { id: record.id, name: record.name }
    end

    def person(user)
      return nil if user.nil?

      mail = user.try(:mail)
      { id: user.id, login: user.try(:login), mail: mail, firstname: user.try(:firstname),
        lastname: user.try(:lastname), identity_url: user.try(:identity_url),
        icon_url: mail.blank? ? nil : gravatar_url(mail) }
    end
  end
end
