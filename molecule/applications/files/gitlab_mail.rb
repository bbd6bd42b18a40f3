# frozen_string_literal: true

# Deliver one message with GitLab's mail library (the Mail gem that ActionMailer uses) and the SMTP settings of a
# gitlab.rb, mapped the way omnibus-gitlab maps them (templates/default/smtp_settings.rb.erb and
# libraries/smtp_helper.rb in gitlabhq/omnibus-gitlab). It proves the settings that smtp_settings writes against GitLab's
# mail library, not against a running GitLab.
#
#   ruby gitlab_mail.rb GITLAB_RB TO SUBJECT
#
# Prints the Mail settings it used (the password masked) and the server's last reply; exits non-zero when delivery fails.
require 'json'
require 'mail'

# gitlab.rb is Ruby that calls the omnibus configuration DSL: gitlab_rails['key'] = value, external_url '...',
# nginx['listen_port'] = 80, roles [...]. Record gitlab_rails; take every other call as a no-op.
class GitlabRbRecorder
  class Anything
    def [](_key)
      self
    end

    def []=(_key, value)
      value
    end

    def method_missing(*_args)
      self
    end

    def respond_to_missing?(*_args)
      true
    end
  end

  attr_reader :gitlab_rails

  def initialize
    @gitlab_rails = {}
  end

  def method_missing(_name, *_args)
    Anything.new
  end

  def respond_to_missing?(*_args)
    true
  end
end

path, to, subject = ARGV
abort "usage: #{$PROGRAM_NAME} GITLAB_RB TO SUBJECT" unless subject

recorder = GitlabRbRecorder.new
recorder.instance_eval(File.read(path), path)
rails = recorder.gitlab_rails

# omnibus: attributes/default.rb
defaults = { 'smtp_enable' => false, 'smtp_open_timeout' => 30, 'smtp_read_timeout' => 60,
             # omnibus's own bundle, /opt/gitlab/embedded/ssl/certs/cacert.pem; this host's bundle stands in for it
             'smtp_ca_file' => '/etc/ssl/certs/ca-certificates.crt' }
rails = defaults.merge(rails) { |_key, default, set| set.nil? ? default : set }
abort "#{path}: gitlab_rails['smtp_enable'] is not true: GitLab would not use SMTP" unless rails['smtp_enable'] == true

# omnibus: SmtpHelper.parse_smtp_authentication! and validate_smtp_settings!
auth = rails['smtp_authentication']
unless auth.nil?
  auth = auth.to_s.downcase
  if auth.empty? || %w[false none].include?(auth)
    auth = nil
  elsif !%w[login plain cram_md5].include?(auth)
    abort "#{path}: gitlab_rails['smtp_authentication'] = #{auth.inspect} is refused by gitlab-ctl reconfigure"
  end
end
if rails['smtp_tls'] && rails['smtp_enable_starttls_auto']
  abort "#{path}: gitlab_rails['smtp_tls'] and gitlab_rails['smtp_enable_starttls_auto'] are mutually exclusive (gitlab-ctl reconfigure)"
end

# omnibus: templates/default/smtp_settings.rb.erb (the keys it renders, only those set)
settings = {}
settings[:authentication] = auth.to_sym unless auth.nil?
settings[:user_name] = rails['smtp_user_name']
settings[:password] = rails['smtp_password']
%w[address port domain enable_starttls_auto tls ssl openssl_verify_mode ca_path ca_file open_timeout read_timeout].each do |key|
  value = rails["smtp_#{key}"]
  settings[key.to_sym] = value unless value.nil?
end
settings[:return_response] = true

shown = settings.map { |key, value| [key, key == :password && value ? '********' : value] }.to_h
puts "gitlab.rb -> Mail::SMTP settings: #{JSON.generate(shown)}"

from_address = rails['gitlab_email_from'] || 'gitlab@localhost'
display_name = rails['gitlab_email_display_name'] || 'GitLab'
mail = Mail.new do
  from Mail::Address.new(from_address).tap { |address| address.display_name = display_name }.to_s
  to to
  subject subject
  body "Sent with the Mail gem #{Mail::VERSION.version} and the SMTP settings of #{path}.\n"
end
mail.delivery_method :smtp, settings
response = mail.deliver!
puts "server: #{response.respond_to?(:string) ? response.string.strip : response.inspect}"
