//! Entry point of the compose page: installs the panic hook and mounts [`App`] to the body.

use sendguard_frontend::App;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
