# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A stand-in for GitLab Omnibus's `gitlab-rails runner CODE`, for tests only: GitLab cannot run here.
# Run it as `ruby gitlab_rails_standin.rb runner CODE` (the tests put a small gitlab-rails wrapper in front of it).
#
# It evaluates CODE as the Rails runner does, with a `Notify.test_email(recipient, subject, body)` shaped like GitLab's
# (app/mailers/notify.rb: an HTML message to the recipient with the given subject) whose `deliver_now` delivers the
# message with the Mail gem, the library under GitLab's ActionMailer, and returns it, raising on any delivery error as
# ActionMailer does by default. Delivery goes over SMTP to GITLAB_STANDIN_SMTP (host:port, no TLS), from
# GITLAB_STANDIN_FROM. GITLAB_STANDIN_PERFORM_DELIVERIES=false turns deliveries off, like gitlab_email_enabled = false.
# An exception in CODE ends the process with status 1 and the exception on stderr, as the real runner does.

require "mail"

unless ARGV.length == 2 && ARGV[0] == "runner"
  warn "usage: gitlab-rails runner CODE"
  exit 2
end

smtp_host, _, smtp_port = ENV.fetch("GITLAB_STANDIN_SMTP").rpartition(":")

Mail.defaults do
  delivery_method :smtp, address: smtp_host, port: Integer(smtp_port), enable_starttls_auto: false, open_timeout: 5, read_timeout: 5
end

# GitLab's Notify mailer, as far as test_email goes.
class Notify
  # ActionMailer::MessageDelivery: deliver_now delivers and returns the Mail::Message.
  class MessageDelivery
    def initialize(message)
      @message = message
    end

    def deliver_now
      @message.deliver
      @message
    end
  end

  def self.test_email(recipient_email, subject, body)
    message = Mail.new
    message.from = "GitLab <#{ENV.fetch("GITLAB_STANDIN_FROM", "gitlab@example.test")}>"
    message.to = recipient_email
    message.subject = subject
    message.content_type = "text/html; charset=UTF-8"
    message.body = body
    message.perform_deliveries = ENV["GITLAB_STANDIN_PERFORM_DELIVERIES"] != "false"
    message.raise_delivery_errors = true
    MessageDelivery.new(message)
  end
end

eval(ARGV[1], TOPLEVEL_BINDING, "runner") # rubocop:disable Security/Eval -- what `rails runner` does with its argument
