# Sets up a Redmine for ticket-bridge's end-to-end tests, as a Redmine administrator would for a
# support team: statuses and trackers named as in the shipped workflows, project `podpora`, the
# PBI field, the roles of customer, bot and agent, and one user per role. Idempotent: run it
# again and it finds what it made. Run with `bin/rails runner configure.rb`, the workflow files
# named in BRIDGE_WORKFLOWS (separated by ':'). Prints one line "REDMINE-CONFIG {json}".
#
# Redmine's own workflow lets every role make every move, on purpose: the bridge, not Redmine,
# must revert a customer's forbidden move. One move is withheld from the bot (FORBIDDEN_FOR_BOT)
# so that a test can show Redmine silently dropping a status change the caller may not make.
require 'json'
require 'yaml'

PROJECT = 'podpora'
FORBIDDEN_FOR_BOT = { tracker: 'Servis', from: 'Hotovo', to: 'Nový' }.freeze
PASSWORD = 'bridge-tests-only-1'

ISSUES = %i[view_issues add_issues edit_issues add_issue_notes].freeze
ROLES = {
  'Zákazník' => { permissions: ISSUES + %i[view_time_entries], issues_visibility: 'default' },
  'Bridge' => {
    permissions: ISSUES + %i[set_notes_private view_private_notes manage_subtasks log_time
                             view_time_entries manage_issue_relations view_issue_watchers],
    issues_visibility: 'all'
  },
  'Řešitel' => {
    permissions: ISSUES + %i[set_notes_private view_private_notes manage_subtasks log_time
                             view_time_entries edit_own_time_entries manage_issue_relations
                             view_issue_watchers add_issue_watchers],
    issues_visibility: 'all'
  }
}.freeze
USERS = {
  'bridge-bot' => { role: 'Bridge', firstname: 'ticket-bridge', lastname: 'Bot', language: 'en' },
  'zakaznik' => { role: 'Zákazník', firstname: 'Jana', lastname: 'Nováková', language: 'cs' },
  'resitel' => { role: 'Řešitel', firstname: 'Petr', lastname: 'Svoboda', language: 'cs' }
}.freeze

# A workflow's statuses in its order, with those that end a ticket marked closed: final
# statuses (no way out in `flow`), billed or never billed ones, and those sub-tasks block.
def workflow_statuses(doc)
  ids = doc.fetch('statuses')
  closing = Array(doc.dig('billing', 'billable')) + Array(doc.dig('billing', 'never')) +
            Array(doc.dig('subtasks', 'closing')) +
            (doc['flow'] || {}).select { |_, to| Array(to).empty? }.keys
  ids.map { |id, name| [name, closing.include?(id)] }
end

def status(name, closed)
  s = IssueStatus.find_or_initialize_by(name: name)
  s.is_closed = closed
  s.save! if s.changed?
  s
end

Setting.rest_api_enabled = '1'

workflows = ENV.fetch('BRIDGE_WORKFLOWS').split(':').map { |path| YAML.safe_load(File.read(path)) }
trackers = {}
statuses = {}
workflows.each do |doc|
  listed = workflow_statuses(doc).map { |name, closed| status(name, closed) }
  listed.each { |s| statuses[s.name] = s }
  initial = statuses.fetch(doc.fetch('statuses').fetch(doc.fetch('initial')))
  Array(doc.dig('applies_to', 'issue_types')).each do |type|
    t = Tracker.find_or_initialize_by(name: type)
    t.default_status = initial
    t.save!
    trackers[type] = [t, listed]
  end
end

roles = ROLES.to_h do |name, spec|
  r = Role.find_or_initialize_by(name: name)
  r.permissions = spec[:permissions]
  r.issues_visibility = spec[:issues_visibility]
  r.time_entries_visibility = 'all'
  r.users_visibility = 'all'
  r.assignable = true
  r.save!
  [name, r]
end

# Every role may move between any two statuses of a tracker, and create an issue in any of
# them (old status 0), except the one move withheld from the bot.
trackers.each do |tracker_name, (tracker, listed)|
  roles.each_value do |role|
    ([nil] + listed).each do |from|
      listed.each do |to|
        next if from == to
        attrs = { role_id: role.id, tracker_id: tracker.id, old_status_id: from ? from.id : 0,
                  new_status_id: to.id, author: false, assignee: false }
        withheld = role.name == 'Bridge' && tracker_name == FORBIDDEN_FOR_BOT[:tracker] &&
                   from&.name == FORBIDDEN_FOR_BOT[:from] && to.name == FORBIDDEN_FOR_BOT[:to]
        if withheld
          WorkflowTransition.where(attrs).delete_all
        else
          WorkflowTransition.find_or_create_by!(attrs)
        end
      end
    end
  end
end

project = Project.find_or_initialize_by(identifier: PROJECT)
project.name = 'Podpora' if project.new_record?
project.is_public = false
project.save!
project.trackers = trackers.values.map(&:first)
project.enabled_module_names = (project.enabled_module_names | %w[issue_tracking time_tracking])
project.save!

pbi = IssueCustomField.find_or_initialize_by(name: 'PBI')
pbi.field_format = 'string'
pbi.is_for_all = true
pbi.visible = true
pbi.editable = true
pbi.tracker_ids = trackers.values.map { |t, _| t.id }
pbi.save!

users = USERS.to_h do |login, spec|
  u = User.find_by(login: login) || User.new.tap do |n|
    n.login = login
    n.password = n.password_confirmation = PASSWORD
    n.mail = "#{login}@example.com"
  end
  u.firstname = spec[:firstname]
  u.lastname = spec[:lastname]
  u.language = spec[:language]
  u.admin = false
  u.status = User::STATUS_ACTIVE
  u.mail_notification = 'none'
  u.save!
  member = Member.find_or_initialize_by(project_id: project.id, user_id: u.id)
  member.role_ids = [roles.fetch(spec[:role]).id]
  member.save!
  [login, u]
end

activity = TimeEntryActivity.shared.active.where(is_default: true).first ||
           TimeEntryActivity.shared.active.order(:position).first ||
           TimeEntryActivity.create!(name: 'Práce', active: true)

forbidden_tracker = trackers.fetch(FORBIDDEN_FOR_BOT[:tracker]).first
result = {
  redmine_version: Redmine::VERSION.to_s,
  project: { id: project.id, identifier: project.identifier },
  trackers: trackers.transform_values { |t, _| t.id },
  tracker_statuses: trackers.transform_values { |_, listed| listed.map(&:name) },
  statuses: statuses.transform_values(&:id),
  closed_statuses: statuses.values.select(&:is_closed).map(&:name),
  roles: roles.transform_values(&:id),
  users: users.to_h { |login, u| [login, { id: u.id, api_key: u.api_key, role: USERS[login][:role] }] },
  custom_fields: { 'PBI' => pbi.id },
  activity: { id: activity.id, name: activity.name, is_default: activity.is_default },
  activities: TimeEntryActivity.shared.active.order(:position).map { |a| { id: a.id, name: a.name, is_default: a.is_default } },
  forbidden_for_bot: FORBIDDEN_FOR_BOT.merge(tracker_id: forbidden_tracker.id,
                                             from_id: statuses.fetch(FORBIDDEN_FOR_BOT[:from]).id,
                                             to_id: statuses.fetch(FORBIDDEN_FOR_BOT[:to]).id)
}
puts "REDMINE-CONFIG #{JSON.generate(result)}"
