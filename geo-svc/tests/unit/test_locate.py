from geo.places.domain import Address, address_changed, locate_in_commune


def test_a_commune_point_is_a_low_confidence_municipality_location():
    location = locate_in_commune(48.44, 1.49)
    assert (location.precision, location.latitude, location.longitude) == ("municipality", 48.44, 1.49)
    assert location.score < 0.5
    assert locate_in_commune(None, 1.49) is None


def test_only_a_real_change_of_address_asks_for_a_new_location():
    before = Address("8 rue Noël Ballay", "28000", "28085")
    assert address_changed(None, before)
    assert not address_changed(before, Address("8 RUE NOEL-BALLAY", "28000", "28085"))
    assert address_changed(before, Address("8 rue Noël Ballay", "28300", "28209"))
    assert address_changed(before, Address("10 rue Noël Ballay", "28000", "28085"))
