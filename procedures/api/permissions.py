from rest_framework.permissions import DjangoModelPermissions


class RolePermission(DjangoModelPermissions):
    """The same permission rules as the pages: reading needs view_<model>, writing add/change/delete.
    Views that are not about one model name their permissions in `required_permissions`."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        required = getattr(view, "required_permissions", None)
        if required is not None:
            return request.user.has_perms(required)
        return super().has_permission(request, view)
