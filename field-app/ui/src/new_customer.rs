//! The new-customer form: a customer met in the field, added with their site and a job for
//! the technician (on site now), offline. The form's ids are made when it is first filled in
//! and kept until it is saved, so tapping "Add" twice adds one customer.

use std::rc::Rc;

use fieldsync_app::NewCustomerForm;
use slint::ComponentHandle as _;

use crate::controller::Inner;
use crate::{AppWindow, Nav, NewCustomerAdapter};

pub(crate) fn wire(ui: &AppWindow, inner: &Rc<Inner>) {
    let on = inner.clone();
    ui.global::<NewCustomerAdapter>().on_save(move || save(&on));
}

fn save(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<NewCustomerAdapter>();
    let form = {
        let mut selection = inner.selection.borrow_mut();
        let form = selection
            .new_customer
            .get_or_insert_with(NewCustomerForm::new);
        form.name = adapter.get_name().to_string();
        form.business = adapter.get_business();
        form.phone = adapter.get_phone().to_string();
        form.email = adapter.get_email().to_string();
        form.street = adapter.get_street().to_string();
        form.city = adapter.get_city().to_string();
        form.region = adapter.get_region().to_string();
        form.postal_code = adapter.get_postal_code().to_string();
        form.job_title = adapter.get_job_title().to_string();
        form.clone()
    };
    let now = inner.now();
    match inner.act(|tablet| Ok(((), tablet.create_customer(now, &form)?))) {
        Ok(()) => {
            inner.selection.borrow_mut().new_customer = None;
            for clear in [
                NewCustomerAdapter::set_name,
                NewCustomerAdapter::set_phone,
                NewCustomerAdapter::set_email,
                NewCustomerAdapter::set_street,
                NewCustomerAdapter::set_city,
                NewCustomerAdapter::set_region,
                NewCustomerAdapter::set_postal_code,
                NewCustomerAdapter::set_job_title,
                NewCustomerAdapter::set_message,
            ] {
                clear(&adapter, "".into());
            }
            adapter.set_business(false);
            // Straight to the new job's packet.
            ui.global::<Nav>()
                .invoke_open_job(form.job.to_string().into());
        }
        Err(error) => adapter.set_message(error.to_string().into()),
    }
}
